// Self-test of the 4-bit linear op (kernels/matmul_vec_q4.wgsl, kernels/matmul_q4.wgsl) against the float64
// reference on the exactly dequantized weights.
import { destroyQ4, linearQ4, packQ4, q4RowBlock, uploadQ4, type Q4RowBlock, type Q4Weight } from '../ops/matmul-q4.js';
import { randomQ4, refDequantQ4, refQ4FoldedAbs } from '../reference/matmul-q4.js';
import { linearSelfTests, type LinearCaseShape, type LinearCaseWeight } from './linear-case.js';
import type { SelfTestCase } from './types.js';

/**
 * A random 4-bit weight [n, k] with `group` from `seed`. Per group the kernels sum code·x and x in f32 and fold
 * scale·(Σ code·x − zero·Σ x): each of the K products and sums and the fold carry ≤ 2⁻²⁴ relative error on
 * magnitudes bounded by Σ |scale|·(code + zero)·|x| (refQ4FoldedAbs), so |err| ≤ (K + groups + 4)·2⁻²⁴ times
 * that sum. A wrong code, nibble order, zero point, scale or index is off by at least one step times |x|.
 * `record` defaults to `linearQ4` (the plan it picks); `rowBlock` to the code layout the loader picks here.
 */
export function q4LinearWeight(s: LinearCaseShape, group: number, seed: number,
  record?: LinearCaseWeight<Q4Weight>['record'], rowBlock?: Q4RowBlock): LinearCaseWeight<Q4Weight> {
  const q = randomQ4(s.n, s.k, group, seed);
  return {
    values: refDequantQ4(q),
    magnitudes: refQ4FoldedAbs(q),
    rel: (s.k + s.k / group + 4) * 2 ** -24,
    upload: (gpu) => uploadQ4(gpu, packQ4(q, rowBlock ?? q4RowBlock(gpu, group)), s.n, s.k, group, 'linear case q4 w'),
    destroy: (gpu, w) => destroyQ4(gpu, w),
    record: record ?? ((rec, gpu, x, w, b, y, accumulate) => linearQ4(rec, gpu, x, w, b, y, { accumulate })),
  };
}

// M = 1 takes the matrix-vector kernel; odd row counts, several groups per row, group sizes 8, 32 and 40.
const SHAPES: readonly (LinearCaseShape & { group: number })[] = [
  { m: 1, n: 13, k: 96, group: 32, bias: true, accumulate: false },
  { m: 1, n: 9, k: 120, group: 40, bias: false, accumulate: true },
  { m: 5, n: 11, k: 64, group: 32, bias: true, accumulate: true },
  { m: 6, n: 7, k: 24, group: 8, bias: false, accumulate: false },
];

export const selfTests: SelfTestCase[] = linearSelfTests(300, SHAPES.map((shape) => ({
  shape, weightName: `w q4 g${shape.group}`, weight: (seed: number) => q4LinearWeight(shape, shape.group, seed),
})));
