// Argument checks shared by the element-wise op families (norm, activation, rope, rows, sample).
import type { Gpu } from '../runtime/device.js';
import type { ActDType } from '../runtime/dtype.js';
import { ShapeError } from '../runtime/errors.js';
import type { Tensor } from '../runtime/tensor.js';

/** The activation dtype shared by `tensors`, checked against what the device can run. */
export function actDtype(gpu: Gpu, what: string, ...tensors: Tensor[]): ActDType {
  const dtype = tensors[0]!.dtype;
  if (dtype !== 'f32' && dtype !== 'f16') throw new ShapeError(`${what}: activations must be f32 or f16, got ${dtype}`);
  for (const t of tensors) {
    if (t.dtype !== dtype) throw new ShapeError(`${what}: mixed activation dtypes ${dtype} and ${t.dtype}`);
  }
  if (dtype === 'f16' && !gpu.features.f16) throw new ShapeError(`${what}: f16 activations need shader-f16, which this device lacks`);
  return dtype;
}

export function requireDtype(t: Tensor, dtype: Tensor['dtype'], what: string): void {
  if (t.dtype !== dtype) throw new ShapeError(`${what} must be ${dtype}, got ${t.dtype}`);
}

export function requireNumel(t: Tensor, n: number, what: string): void {
  if (t.numel !== n) throw new ShapeError(`${what}: expected ${n} elements, [${t.shape}] has ${t.numel}`);
}

/**
 * WebGPU rejects a dispatch that binds one buffer both writable and again (a usage conflict); catch it here with
 * a clear message. `writable` are the tensors the op writes, `others` those it only reads.
 */
export function requireDistinct(what: string, writable: readonly Tensor[], others: readonly Tensor[]): void {
  const all = [...writable, ...others];
  for (let i = 0; i < writable.length; i++) {
    for (let j = 0; j < all.length; j++) {
      if (i !== j && writable[i]!.part.buffer === all[j]!.part.buffer) {
        throw new ShapeError(`${what}: ${writable[i]!.label || 'output'} shares a GPU buffer with another operand`);
      }
    }
  }
}

export function requirePositiveInt(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 1) throw new ShapeError(`${what} must be a positive integer, got ${v}`);
}
