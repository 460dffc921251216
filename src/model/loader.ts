/**
 * Uploads a validated checkpoint to the GPU. Validation (manifest: names, shapes, dtypes) runs first and throws
 * before any buffer is created. Each tensor is read from its file range, converted to the storage dtype when
 * the file's dtype differs (bf16 -> bf16 stays raw; F32 -> bf16/f16 rounds to nearest even), and uploaded.
 */
import type { Tensor } from '../runtime/tensor.js';
import type { WeightDType } from '../runtime/dtype.js';
import type { Checkpoint } from './checkpoint.js';
import { CheckpointError } from './errors.js';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from './half.js';
import { validateCheckpoint, type ValidationReport } from './manifest.js';
import { bindingParts } from './memory-plan.js';
import type { SafetensorsDtype } from './safetensors.js';

/** The part of the runtime's Gpu the loader needs. */
export interface WeightUploader {
  /** Per-binding byte limit; when given, tensors whose rows cannot be split under it are reported up front. */
  readonly maxBindingBytes?: number;
  upload(bytes: Uint8Array, shape: readonly number[], dtype: WeightDType, label?: string): Tensor;
  destroyTensor(t: Tensor): void;
}

export interface LoadProgress {
  name: string;
  /** Tensors uploaded so far (including this one) and in all. */
  index: number;
  count: number;
  /** Checkpoint bytes read so far and in all. */
  bytesRead: number;
  bytesTotal: number;
}

export interface LoadOptions {
  storage: WeightDType;
  onProgress?: (p: LoadProgress) => void;
}

export interface WeightStore {
  /** The uploaded tensor. With tied embeddings, `lm_head.weight` is the `model.embed_tokens.weight` tensor. */
  get(name: string): Tensor;
  has(name: string): boolean;
  readonly names: readonly string[];
  readonly storage: WeightDType;
  readonly report: ValidationReport;
  /** Frees every GPU buffer of the store. */
  destroy(): void;
}

const STORAGE_DTYPE: Record<WeightDType, SafetensorsDtype> = { bf16: 'BF16', f16: 'F16', f32: 'F32' };

/** Converts raw little-endian tensor bytes of a float dtype to the storage dtype (raw pass-through if equal). */
export function convertWeightBytes(raw: Uint8Array, from: SafetensorsDtype, to: WeightDType): Uint8Array {
  if (from === STORAGE_DTYPE[to]) return raw;
  const a = raw.byteOffset % 4 === 0 ? raw : raw.slice();
  let f32: Float32Array;
  if (from === 'F32') f32 = new Float32Array(a.buffer, a.byteOffset, a.byteLength / 4);
  else if (from === 'BF16') f32 = bf16ToF32(new Uint16Array(a.buffer, a.byteOffset, a.byteLength / 2));
  else if (from === 'F16') f32 = f16ToF32(new Uint16Array(a.buffer, a.byteOffset, a.byteLength / 2));
  else throw new RangeError(`cannot convert ${from} weights`); // validation admits only float dtypes
  if (to === 'f32') return new Uint8Array(f32.buffer, f32.byteOffset, f32.byteLength);
  const bits = to === 'bf16' ? f32ToBf16(f32) : f32ToF16(f32);
  return new Uint8Array(bits.buffer);
}

export async function loadWeights(gpu: WeightUploader, checkpoint: Checkpoint, opts: LoadOptions): Promise<WeightStore> {
  const report = validateCheckpoint(checkpoint, checkpoint.config);
  const todo = report.expected.filter((e) => checkpoint.tensors.has(e.name));
  if (gpu.maxBindingBytes !== undefined) {
    const limits = { maxBufferSize: gpu.maxBindingBytes, maxStorageBufferBindingSize: gpu.maxBindingBytes };
    const elem = opts.storage === 'f32' ? 4 : 2;
    const tooWide = todo.filter((e) => bindingParts(e.shape, elem, limits).parts === 0);
    if (tooWide.length) {
      throw new CheckpointError(
        tooWide.map((e) => ({ file: checkpoint.tensors.get(e.name)!.file, tensor: e.name, message: `one row of [${e.shape}] ${opts.storage} exceeds the ${gpu.maxBindingBytes}-byte binding limit` })),
        'weights cannot be split into GPU bindings',
      );
    }
  }
  const bytesTotal = todo.reduce((s, e) => s + checkpoint.tensors.get(e.name)!.info.byteLength, 0);
  const store = new Map<string, Tensor>();
  let bytesRead = 0;
  try {
    for (const [i, e] of todo.entries()) {
      const { file, info } = checkpoint.tensors.get(e.name)!;
      const raw = await checkpoint.read(e.name);
      if (raw.byteLength !== info.byteLength) {
        throw new CheckpointError({ file, tensor: e.name, message: `read ${raw.byteLength} bytes, expected ${info.byteLength}` });
      }
      const bytes = convertWeightBytes(raw, info.dtype, opts.storage);
      if (opts.storage === 'f16' && info.dtype !== 'F16' && !finiteF16(bytes)) {
        throw new CheckpointError({ file, tensor: e.name, message: 'values overflow f16 storage; load with storage bf16 or f32' });
      }
      store.set(e.name, gpu.upload(bytes, info.shape, opts.storage, e.name));
      bytesRead += info.byteLength;
      opts.onProgress?.({ name: e.name, index: i + 1, count: todo.length, bytesRead, bytesTotal });
    }
  } catch (err) {
    for (const t of store.values()) gpu.destroyTensor(t);
    throw err;
  }
  const tied = checkpoint.config.llm.tieEmbeddings && !store.has('lm_head.weight');
  const names = [...store.keys()];
  return {
    storage: opts.storage,
    report,
    names,
    has: (name) => store.has(name) || (tied && name === 'lm_head.weight'),
    get(name) {
      const t = store.get(tied && name === 'lm_head.weight' ? 'model.embed_tokens.weight' : name);
      if (!t) throw new CheckpointError({ tensor: name, message: 'not a loaded weight' });
      return t;
    },
    destroy() {
      for (const t of store.values()) gpu.destroyTensor(t);
      store.clear();
    },
  };
}

/** False if narrowing produced an infinity from a finite value (f16 max is 65504). */
function finiteF16(bytes: Uint8Array): boolean {
  const u16 = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
  for (let i = 0; i < u16.length; i++) if ((u16[i]! & 0x7fff) === 0x7c00) return false;
  return true;
}
