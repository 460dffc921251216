// Helpers shared by the element-wise kernel tests (norm, activation, rope, rows, sample).
import { featurePaths, getGpu, uploadValues, type FeaturePath } from '../helpers/gpu.js';
import type { Gpu } from '../../src/runtime/device.js';
import type { ActDType } from '../../src/runtime/dtype.js';
import { stored } from '../../src/selftest/elementwise-util.js';
import type { Tensor } from '../../src/runtime/tensor.js';

export interface Case { path: FeaturePath; dtype: ActDType }

/** Every feature path with the activation dtypes it allows: f32 everywhere, f16 where shader-f16 exists. */
export async function actCases(): Promise<Case[]> {
  const out: Case[] = [];
  for (const path of await featurePaths()) {
    out.push({ path, dtype: 'f32' });
    if (path.optional && (await getGpu(path)).features.f16) out.push({ path, dtype: 'f16' });
  }
  return out;
}

/** Values as they are stored in `dtype` (what the kernel really reads; references start from these). */
export { stored };

/** Upload values in `dtype`; returns the tensor and the stored (rounded) values. */
export function put(gpu: Gpu, values: ArrayLike<number>, shape: number[], dtype: ActDType): { t: Tensor; v: Float32Array } {
  return { t: uploadValues(gpu, values, shape, dtype), v: stored(values, dtype) };
}

/** Half an ulp relative to the value (the rounding of one output to dtype). */
export const HALF_ULP: Record<ActDType, number> = { f32: 2 ** -24, f16: 2 ** -11 };
