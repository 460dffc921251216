// Comparison of float64 results against goldens stored as F32 (test-only).
import { maxRelErr } from '../../src/util/rel-err.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Spacing between |g| (an f32 value) and the next larger f32. */
export function ulpAboveF32(g: number): number {
  f32[0] = Math.abs(g);
  const a = f32[0]!;
  u32[0] = u32[0]! + 1;
  return f32[0]! - a;
}

export interface GoldenDiff {
  /** max|x - g| / max|g| */
  maxRel: number;
  /**
   * max over elements of (|x - g| - ulp32(g)/2) / max|g|, floored at 0: how far `actual` is from rounding to the
   * golden. A float64 oracle stored as F32 differs from another float64 implementation by at most half an f32 ulp
   * plus the float64 difference between the two implementations, which is what this isolates.
   */
  excess: number;
  maxAbsGolden: number;
}

export function diffAgainstF32(actual: ArrayLike<number>, golden: ArrayLike<number>): GoldenDiff {
  if (actual.length !== golden.length) throw new Error(`length ${actual.length} vs golden ${golden.length}`);
  let maxG = 0;
  for (let i = 0; i < golden.length; i++) maxG = Math.max(maxG, Math.abs(golden[i]!));
  let maxD = 0;
  let maxE = 0;
  for (let i = 0; i < golden.length; i++) {
    const d = Math.abs(actual[i]! - golden[i]!);
    if (!(d <= Infinity)) return { maxRel: NaN, excess: NaN, maxAbsGolden: maxG }; // NaN anywhere fails
    maxD = Math.max(maxD, d);
    maxE = Math.max(maxE, d - ulpAboveF32(golden[i]!) / 2);
  }
  const scale = maxG > 0 ? maxG : 1;
  return { maxRel: maxD / scale, excess: maxE / scale, maxAbsGolden: maxG };
}

/** max|a - b| / max|b| between two float64 arrays (src/util/rel-err.ts; Infinity where a difference is NaN). */
export function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  return maxRelErr(a, b);
}
