// The LLM's KV cache: per layer one K and one V tensor [capacity, kvHeads*headDim] in the activation dtype,
// holding already-rotated keys. `length` rows are valid; a step writes its rows at `length` (writeKv) for every
// layer, attends with past = length, then `commit`s. `truncate` rolls back to a shared prefix (next turn).
import type { Gpu } from '../runtime/device.js';
import type { ActDType } from '../runtime/dtype.js';
import { ContextOverflowError, ShapeError } from '../runtime/errors.js';
import type { Tensor } from '../runtime/tensor.js';
import type { StridedView } from '../ops/view.js';

/**
 * Why a KV cache of `capacity` tokens cannot serve this LLM, or null: over the model's max_position_embeddings,
 * or (given the device's per-binding limit) one layer's K or V tensor too large to bind.
 */
export function contextLengthProblem(
  llm: { maxPositionEmbeddings: number; kvHeads: number; headDim: number },
  capacity: number,
  dtype: ActDType,
  maxBindingBytes?: number,
): string | null {
  if (!Number.isSafeInteger(capacity) || capacity < 2) return `a context of ${capacity} tokens: give an integer >= 2`;
  if (capacity > llm.maxPositionEmbeddings) {
    return `${capacity} tokens is over the model's context (max_position_embeddings ${llm.maxPositionEmbeddings}); use ${llm.maxPositionEmbeddings} or less`;
  }
  const rowBytes = llm.kvHeads * llm.headDim * (dtype === 'f16' ? 2 : 4);
  if (maxBindingBytes !== undefined && capacity * rowBytes > maxBindingBytes) {
    const fit = Math.floor(maxBindingBytes / rowBytes);
    return `${capacity} tokens need ${capacity * rowBytes} bytes per KV-cache layer, over this adapter's ${maxBindingBytes}-byte binding limit; use ${fit} or less`;
  }
  return null;
}

export interface KvCacheOptions {
  layers: number;
  capacity: number;
  kvHeads: number;
  headDim: number;
  dtype: ActDType;
}

export class KvCache {
  readonly layers: number;
  readonly capacity: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly dtype: ActDType;
  private readonly keys: Tensor[] = [];
  private readonly values: Tensor[] = [];
  private len = 0;

  constructor(gpu: Gpu, o: KvCacheOptions) {
    for (const [name, n] of [['layers', o.layers], ['capacity', o.capacity], ['kvHeads', o.kvHeads], ['headDim', o.headDim]] as const) {
      if (!Number.isInteger(n) || n < 1) throw new ShapeError(`KvCache: ${name} ${n} must be a positive integer`);
    }
    if (o.dtype === 'f16' && !gpu.features.f16) throw new ShapeError('KvCache: f16 needs shader-f16, which this device lacks');
    this.layers = o.layers;
    this.capacity = o.capacity;
    this.kvHeads = o.kvHeads;
    this.headDim = o.headDim;
    this.dtype = o.dtype;
    const shape = [o.capacity, o.kvHeads * o.headDim];
    try {
      for (let l = 0; l < o.layers; l++) {
        this.keys.push(gpu.tensor(shape, o.dtype, `kv-cache.k${l}`));
        this.values.push(gpu.tensor(shape, o.dtype, `kv-cache.v${l}`));
      }
    } catch (e) {
      this.destroy();
      throw e;
    }
  }

  /** Valid rows (tokens) in the cache. */
  get length(): number { return this.len; }
  get free(): number { return this.capacity - this.len; }
  get width(): number { return this.kvHeads * this.headDim; }

  k(layer: number): Tensor { return this.keys[this.checkLayer(layer)]!; }
  v(layer: number): Tensor { return this.values[this.checkLayer(layer)]!; }
  kView(layer: number): StridedView { return { t: this.k(layer), stride: this.width, offset: 0 }; }
  vView(layer: number): StridedView { return { t: this.v(layer), stride: this.width, offset: 0 }; }

  /** Throw ContextOverflowError unless `n` more rows fit. Returns the row they will be written at. */
  reserve(n: number): number {
    if (!Number.isInteger(n) || n < 0) throw new ShapeError(`KvCache.reserve: ${n} is not a row count`);
    if (this.len + n > this.capacity) throw new ContextOverflowError(this.capacity, this.len + n);
    return this.len;
  }

  /** Mark `n` rows written at `length` (by writeKv in every layer) as valid. */
  commit(n: number): void {
    this.reserve(n);
    this.len += n;
  }

  /** Roll back to the first `n` rows (a shared prefix of the next turn). */
  truncate(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n > this.len) throw new ShapeError(`KvCache.truncate: ${n} outside 0..${this.len}`);
    this.len = n;
  }

  destroy(): void {
    for (const t of [...this.keys, ...this.values]) t.release();
    this.keys.length = 0;
    this.values.length = 0;
    this.len = 0;
  }

  private checkLayer(layer: number): number {
    if (!Number.isInteger(layer) || layer < 0 || layer >= this.keys.length) {
      throw new ShapeError(`KvCache: layer ${layer} outside 0..${this.keys.length - 1}`);
    }
    return layer;
  }
}
