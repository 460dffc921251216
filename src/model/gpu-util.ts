// Small helpers the forward passes share: integer tables on the GPU, row slices of activations for chunked work.
import type { Gpu } from '../runtime/device.js';
import { encode, storageBytes, type DType } from '../runtime/dtype.js';
import { ShapeError } from '../runtime/errors.js';
import { Tensor } from '../runtime/tensor.js';

/**
 * Small per-call tables (segment boundaries, indices, token ids) as a pooled u32 tensor: no buffer is created per
 * call once the pool is warm. Release it (t.release()) after the submit that reads it.
 */
export function uploadU32(gpu: Gpu, values: ArrayLike<number>, label: string): Tensor {
  const data = new Uint32Array(Math.max(values.length, 1));
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isInteger(v) || v < 0) throw new ShapeError(`${label}: ${v} is not a u32`);
    data[i] = v;
  }
  const t = gpu.tensor([values.length], 'u32', label);
  gpu.write(t, new Uint8Array(data.buffer));
  return t;
}

/** Per-call f32 tables (rotary cos/sin) as a pooled tensor; release it after the submit that reads it. */
export function uploadF32(gpu: Gpu, values: ArrayLike<number>, shape: readonly number[], label: string): Tensor {
  return activationFrom(gpu, values, shape, 'f32', label);
}

/** Upload f32 values into a pooled activation tensor of `dtype` (pixels, features). */
export function activationFrom(gpu: Gpu, values: ArrayLike<number>, shape: readonly number[], dtype: DType, label: string): Tensor {
  const t = gpu.tensor(shape, dtype, label);
  gpu.write(t, encode(values, dtype));
  return t;
}

/**
 * Rows [r0, r0 + rows) of a single-part tensor as a view (no copy). Storage-binding offsets must be multiples of
 * the device's minStorageBufferOffsetAlignment; `rowGranularity` gives the row multiple that guarantees it.
 */
export function sliceRows(gpu: Gpu, t: Tensor, r0: number, rows: number): Tensor {
  const p = t.part;
  const rowBytes = storageBytes(t.dtype, t.rowSize);
  const offset = p.byteOffset + r0 * rowBytes;
  if (offset % gpu.limits.minStorageBufferOffsetAlignment !== 0) {
    throw new ShapeError(`row slice at ${r0} of [${t.shape}] is not ${gpu.limits.minStorageBufferOffsetAlignment}-byte aligned`);
  }
  if (r0 < 0 || r0 + rows > t.rows) throw new ShapeError(`rows ${r0}..${r0 + rows} outside [${t.shape}]`);
  return new Tensor([rows, ...t.shape.slice(1)], t.dtype,
    [{ buffer: p.buffer, byteOffset: offset, byteLength: Math.max(4, rows * rowBytes), row0: 0, rows }], null, t.label);
}

/** Smallest row count whose byte size is a multiple of the binding-offset alignment for every row size given. */
export function rowGranularity(gpu: Gpu, rowBytes: readonly number[]): number {
  const align = gpu.limits.minStorageBufferOffsetAlignment;
  let g = 1;
  for (const rb of rowBytes) {
    let k = 1;
    while ((k * rb) % align !== 0) k++;
    g = lcm(g, k);
  }
  return g;
}

/** Row chunk size: as many rows as fit `maxBytesPerRow` in the binding limit, a multiple of the granularity. */
export function chunkRows(gpu: Gpu, totalRows: number, maxBytesPerRow: number, granularity: number): number {
  const fit = Math.floor(gpu.maxBindingBytes / Math.max(maxBytesPerRow, 1));
  if (fit >= totalRows) return totalRows;
  const c = fit - (fit % granularity);
  if (c < 1) throw new ShapeError(`a row of ${maxBytesPerRow} bytes does not fit the binding limit`);
  return c;
}

function gcd(a: number, b: number): number { return b ? gcd(b, a % b) : a; }
function lcm(a: number, b: number): number { return (a / gcd(a, b)) * b; }
