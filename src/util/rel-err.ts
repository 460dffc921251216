// The relative error measure of the goldens, self-tests and tests. Platform-neutral.

/**
 * max |got - ref| / max |ref| (max |got - ref| when ref is all zeros). Infinity when the lengths differ, when
 * `got` holds a non-finite value, or when a difference is NaN: poisoned (unwritten) elements always fail.
 */
export function maxRelErr(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (got.length !== ref.length) return Infinity;
  let maxRef = 0;
  let maxDiff = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(got[i]! - ref[i]!);
    if (!Number.isFinite(got[i]!) || Number.isNaN(d)) return Infinity;
    maxRef = Math.max(maxRef, Math.abs(ref[i]!));
    maxDiff = Math.max(maxDiff, d);
  }
  return maxRef === 0 ? maxDiff : maxDiff / maxRef;
}
