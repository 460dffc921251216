// An embedding table kept in host memory: a table is only ever gathered (one row per token), so the rows a step
// needs are converted here and uploaded with the step instead of holding [vocab, hidden] on the GPU (1.0 GiB of
// bf16 for ViLaVT-7B's LLM, 0.3 GiB for its text encoder). Used for 4-bit checkpoints, whose GPU budget it frees
// (docs/QUANTIZATION.md); a tied lm_head keeps its table on the GPU.
import type { Gpu } from '../runtime/device.js';
import { decode, encode, type ActDType, type WeightDType } from '../runtime/dtype.js';
import { ShapeError } from '../runtime/errors.js';
import type { Recorder } from '../runtime/recorder.js';
import type { Tensor } from '../runtime/tensor.js';
import { embed } from '../ops/rows.js';

export class HostEmbedding {
  readonly kind = 'host-embedding';
  constructor(readonly rows: number, readonly dim: number, readonly dtype: WeightDType, private readonly data: Uint8Array, readonly label = 'embedding') {
    if (data.byteLength !== rows * dim * (dtype === 'f32' ? 4 : 2)) throw new ShapeError(`${label}: ${data.byteLength} bytes for [${rows}, ${dim}] ${dtype}`);
  }

  get byteLength(): number { return this.data.byteLength; }

  /** Rows `ids` as `act` bytes, row-major [ids.length, dim]. */
  gather(ids: readonly number[], act: ActDType): Uint8Array {
    const eb = this.dtype === 'f32' ? 4 : 2;
    const rowBytes = this.dim * eb;
    const raw = new Uint8Array(ids.length * rowBytes);
    ids.forEach((id, i) => {
      if (!Number.isInteger(id) || id < 0 || id >= this.rows) throw new ShapeError(`${this.label}: token id ${id} outside [0, ${this.rows})`);
      raw.set(this.data.subarray(id * rowBytes, (id + 1) * rowBytes), i * rowBytes);
    });
    return encode(decode(raw, this.dtype, ids.length * this.dim), act);
  }
}

export type EmbeddingTable = Tensor | HostEmbedding;

export function isHostEmbedding(t: unknown): t is HostEmbedding {
  return t instanceof HostEmbedding;
}

/**
 * x[T, D] = rows `ids` of `table`. A GPU table is gathered on the GPU from `idsT`; a host table's rows are
 * converted here into a pooled tensor (appended to `owned`, released by the caller after its submit) and copied
 * into x in order with the recorded work.
 */
export function embedTokens(rec: Recorder, gpu: Gpu, table: EmbeddingTable, ids: readonly number[], idsT: Tensor, x: Tensor, owned: Tensor[]): void {
  if (!isHostEmbedding(table)) { embed(rec, gpu, table, idsT, x); return; }
  if (x.dtype !== 'f32' && x.dtype !== 'f16') throw new ShapeError(`embedTokens: x must be f32 or f16, got ${x.dtype}`);
  if (x.shape[0] !== ids.length || x.rowSize !== table.dim) throw new ShapeError(`embedTokens: x [${x.shape}] for ${ids.length} ids of width ${table.dim}`);
  const bytes = table.gather(ids, x.dtype);
  const rows = gpu.tensor([ids.length, table.dim], x.dtype, `${table.label}.rows`);
  owned.push(rows);
  gpu.write(rows, bytes);
  rec.copy(rows.part.buffer, rows.part.byteOffset, x.part.buffer, x.part.byteOffset, bytes.byteLength);
}
