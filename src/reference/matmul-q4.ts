// Float64 reference of 4-bit weights (src/ops/matmul-q4.ts): the dequantized matrix, exactly.
import { f16BitsToNumber } from '../runtime/dtype.js';
import type { Q4Parts } from '../ops/matmul-q4.js';

/** W[n, k] = (code − zero)·scale, row-major [n, k] (exact: a 4-bit integer times an f16). */
export function refDequantQ4(q: Q4Parts): Float64Array {
  const { n, k, group } = q;
  const g = k / group;
  const w = new Float64Array(n * k);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < k; c++) {
      const gi = r * g + Math.floor(c / group);
      w[r * k + c] = (q.codes[r * k + c]! - q.zeros[gi]!) * f16BitsToNumber(q.scales[gi]!);
    }
  }
  return w;
}

/**
 * |scale|·(code + zero) per element: the magnitudes a kernel that folds the zero point per group
 * (scale·(Σ code·x − zero·Σ x)) actually sums, so its f32 rounding error is bounded against these, not against |W|.
 */
export function refQ4FoldedAbs(q: Q4Parts): Float64Array {
  const { n, k, group } = q;
  const g = k / group;
  const w = new Float64Array(n * k);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < k; c++) {
      const gi = r * g + Math.floor(c / group);
      w[r * k + c] = (q.codes[r * k + c]! + q.zeros[gi]!) * Math.abs(f16BitsToNumber(q.scales[gi]!));
    }
  }
  return w;
}
