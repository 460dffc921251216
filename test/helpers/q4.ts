// Random 4-bit weights for kernel tests (src/ops/matmul-q4.ts layout).
import { numberToF16Bits } from '../../src/runtime/dtype.js';
import type { Q4Parts } from '../../src/ops/matmul-q4.js';
import { rng } from './random.js';

/** Random codes, zero points and f16 scales (0.002..0.03, the size of a trained layer's steps). */
export function randomQ4(n: number, k: number, group: number, seed: number): Q4Parts {
  const r = rng(seed);
  const g = (n * k) / group;
  return {
    n, k, group,
    codes: Uint8Array.from({ length: n * k }, () => Math.floor(r() * 16)),
    zeros: Uint8Array.from({ length: g }, () => Math.floor(r() * 16)),
    scales: Uint16Array.from({ length: g }, () => numberToF16Bits((0.002 + 0.028 * r()) * (r() < 0.1 ? -1 : 1))),
  };
}
