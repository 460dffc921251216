// Self-test of the linear op (kernels/matmul_vec.wgsl, kernels/matmul.wgsl) against the float64 reference.
import type { WeightDType } from '../runtime/dtype.js';
import { encode } from '../runtime/dtype.js';
import type { Tensor } from '../runtime/tensor.js';
import { linear } from '../ops/matmul.js';
import { uniformArray } from '../util/random.js';
import { stored } from './elementwise-util.js';
import { linearSelfTests, type LinearCaseShape, type LinearCaseWeight } from './linear-case.js';
import type { SelfTestCase } from './types.js';

/**
 * A float weight [n, k] in `dtype` from `seed` (the reference starts from the stored values). The kernels sum the
 * K products in f32 in their own order: |err| ≤ (K + 2)·2⁻²⁴·Σ|terms| (K products, K − 1 additions, bias, start
 * value). `record` defaults to `linear` (the plan it picks).
 */
export function floatLinearWeight(s: LinearCaseShape, dtype: WeightDType, seed: number,
  record?: LinearCaseWeight<Tensor>['record']): LinearCaseWeight<Tensor> {
  const values = stored(uniformArray(s.n * s.k, seed), dtype);
  return {
    values,
    magnitudes: Array.from(values, Math.abs),
    rel: (s.k + 2) * 2 ** -24,
    upload: (gpu) => gpu.upload(encode(values, dtype), [s.n, s.k], dtype, 'linear case w'),
    destroy: (gpu, w) => gpu.destroyTensor(w),
    record: record ?? ((rec, gpu, x, w, b, y, accumulate) => linear(rec, gpu, x, w, b, y, { accumulate })),
  };
}

// M = 1 takes the matrix-vector kernel; K = 40 and 36 take the vectorised loops, K = 7 the element-wise ones.
const SHAPES: readonly LinearCaseShape[] = [
  { m: 1, n: 13, k: 40, bias: true, accumulate: false },
  { m: 1, n: 9, k: 7, bias: false, accumulate: true },
  { m: 5, n: 11, k: 36, bias: true, accumulate: true },
  { m: 6, n: 7, k: 7, bias: false, accumulate: false },
];
const WEIGHTS: readonly WeightDType[] = ['bf16', 'f16', 'f32'];

export const selfTests: SelfTestCase[] = linearSelfTests(100, WEIGHTS.flatMap((wd) => SHAPES.map((shape) => ({
  shape, weightName: `w ${wd}`, weight: (seed: number) => floatLinearWeight(shape, wd, seed),
}))));
