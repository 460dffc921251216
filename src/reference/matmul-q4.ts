// Float64 reference of 4-bit weights (src/ops/matmul-q4.ts): the dequantized matrix, exactly.
import { f16BitsToNumber, numberToF16Bits } from '../runtime/dtype.js';
import { mulberry32 } from '../util/random.js';
import type { Q4Parts } from '../ops/matmul-q4.js';

/** f(code, zero, scale) for every element, row-major [n, k]. */
function perElement(q: Q4Parts, f: (code: number, zero: number, scale: number) => number): Float64Array {
  const { n, k, group } = q;
  const g = k / group;
  const w = new Float64Array(n * k);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < k; c++) {
      const gi = r * g + Math.floor(c / group);
      w[r * k + c] = f(q.codes[r * k + c]!, q.zeros[gi]!, f16BitsToNumber(q.scales[gi]!));
    }
  }
  return w;
}

/** W[n, k] = (code − zero)·scale, row-major [n, k] (exact: a 4-bit integer times an f16). */
export function refDequantQ4(q: Q4Parts): Float64Array {
  return perElement(q, (code, zero, scale) => (code - zero) * scale);
}

/**
 * |scale|·(code + zero) per element: the magnitudes a kernel that folds the zero point per group
 * (scale·(Σ code·x − zero·Σ x)) actually sums, so its f32 rounding error is bounded against these, not against |W|.
 */
export function refQ4FoldedAbs(q: Q4Parts): Float64Array {
  return perElement(q, (code, zero, scale) => (code + zero) * Math.abs(scale));
}

/** Random codes, zero points and f16 scales (0.002..0.03, 10% negative: the size of a trained layer's steps). */
export function randomQ4(n: number, k: number, group: number, seed: number): Q4Parts {
  const r = mulberry32(seed);
  const g = (n * k) / group;
  return {
    n, k, group,
    codes: Uint8Array.from({ length: n * k }, () => Math.floor(r() * 16)),
    zeros: Uint8Array.from({ length: g }, () => Math.floor(r() * 16)),
    scales: Uint16Array.from({ length: g }, () => numberToF16Bits((0.002 + 0.028 * r()) * (r() < 0.1 ? -1 : 1))),
  };
}
