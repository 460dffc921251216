// Seeded inputs for tests (mulberry32, src/util/random.ts): random and never all zeros.
import { mulberry32, uniformArray } from '../../src/util/random.js';

/** The seeded uniform stream in [0, 1). */
export const rng = mulberry32;

/** Uniform values in [lo, hi). */
export const uniform = uniformArray;

/** Approximately normal values (Box-Muller), scaled by std. */
export function randn(n: number, seed: number, std = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(r(), 1e-12);
    const v = r();
    const m = Math.sqrt(-2 * Math.log(u)) * std;
    out[i] = m * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = m * Math.sin(2 * Math.PI * v);
  }
  return out;
}
