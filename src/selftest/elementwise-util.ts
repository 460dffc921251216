// Helpers of the self-tests (norm, activation, rope, rows, sample, matmul). Platform-neutral.
import type { Gpu } from '../runtime/device.js';
import { decode, encode, type DType } from '../runtime/dtype.js';
import type { Recorder } from '../runtime/recorder.js';
import type { Tensor } from '../runtime/tensor.js';

/** Values as stored in `dtype` (what the kernel reads, so what the reference starts from). */
export function stored(v: ArrayLike<number>, dtype: DType): Float32Array {
  return decode(encode(v, dtype), dtype, v.length);
}

/** Persistent tensor holding `values` in `dtype`. Destroy with gpu.destroyTensor. */
export function upload(gpu: Gpu, values: ArrayLike<number>, shape: number[], dtype: DType, label = 'selftest'): Tensor {
  return gpu.upload(encode(values, dtype), shape, dtype, label);
}

/** A pooled tensor filled with NaN (f32) so unwritten elements show. */
export function poisoned(gpu: Gpu, shape: number[], label = 'selftest-out'): Tensor {
  const t = gpu.tensor(shape, 'f32', label);
  const words = new Uint32Array(t.part.byteLength / 4).fill(0x7fc00000);
  gpu.write(t, new Uint8Array(words.buffer));
  return t;
}

export async function runAndRead(gpu: Gpu, record: (rec: Recorder) => void, out: Tensor): Promise<Float32Array> {
  const rec = gpu.recorder();
  record(rec);
  rec.submit();
  return gpu.read(out);
}

export function result(err: number, tol: number, detail: string): { ok: boolean; maxRelErr: number; detail: string } {
  return { ok: err <= tol, maxRelErr: err, detail: `${detail} (tolerance ${tol})` };
}
