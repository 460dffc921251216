// Helpers of the element-wise self-tests (norm, activation, rope, rows, sample). Platform-neutral.
import type { Gpu } from '../runtime/device.js';
import { decode, encode, type DType } from '../runtime/dtype.js';
import type { Recorder } from '../runtime/recorder.js';
import type { Tensor } from '../runtime/tensor.js';

/** Seeded uniform values in [lo, hi) (mulberry32): never all zero. */
export function uniform(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = lo + (hi - lo) * (((t ^ (t >>> 14)) >>> 0) / 4294967296);
  }
  return out;
}

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

/** max |got - ref| / max |ref|; Infinity if `got` holds a non-finite value where ref is finite. */
export function maxRelErr(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  let maxRef = 0;
  let maxDiff = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(got[i]! - ref[i]!);
    if (!(d <= Infinity)) return Infinity;
    maxRef = Math.max(maxRef, Math.abs(ref[i]!));
    maxDiff = Math.max(maxDiff, d);
  }
  return maxRef === 0 ? maxDiff : maxDiff / maxRef;
}

export function result(err: number, tol: number, detail: string): { ok: boolean; maxRelErr: number; detail: string } {
  return { ok: err <= tol, maxRelErr: err, detail: `${detail} (tolerance ${tol})` };
}
