// A tensor is a shape + dtype over one or more GPU buffers. Tensors larger than the per-binding limit are split
// by leading-dimension rows across several buffers ("parts"); ops that accept split tensors (matmul/matvec
// weights, embedding tables) dispatch once per part, every other op requires a single part.
import type { DType } from './dtype.js';
import { bytesPerElement } from './dtype.js';
import { ShapeError } from './errors.js';

export interface TensorPart {
  readonly buffer: GPUBuffer;
  /** Byte offset of this part's first row inside `buffer`. */
  readonly byteOffset: number;
  readonly byteLength: number;
  /** First leading-dimension row held by this part, and how many rows. */
  readonly row0: number;
  readonly rows: number;
}

export interface TensorOwner {
  releaseTensor(t: Tensor): void;
}

let nextTensorId = 1;

export class Tensor {
  readonly id = nextTensorId++;
  private released = false;

  constructor(
    readonly shape: readonly number[],
    readonly dtype: DType,
    readonly parts: readonly TensorPart[],
    private readonly owner: TensorOwner | null,
    readonly label = '',
  ) {}

  get numel(): number { return numel(this.shape); }
  /** Elements per leading-dimension row. */
  get rowSize(): number { return numel(this.shape.slice(1)); }
  get rows(): number { return this.shape[0] ?? 1; }
  get isSplit(): boolean { return this.parts.length > 1; }
  get isReleased(): boolean { return this.released; }

  /** The single part of an unsplit tensor (most ops). */
  get part(): TensorPart {
    if (this.parts.length !== 1) {
      throw new ShapeError(`tensor ${this.label || this.id} [${this.shape}] is split across ${this.parts.length} bindings; this op needs one`);
    }
    return this.parts[0]!;
  }

  get buffer(): GPUBuffer { return this.part.buffer; }

  /** Same storage, another shape with the same element count (no copy). */
  view(shape: readonly number[]): Tensor {
    if (numel(shape) !== this.numel) throw new ShapeError(`cannot view [${this.shape}] as [${shape}]`);
    if (this.parts.length !== 1 && shape[0] !== this.shape[0]) {
      throw new ShapeError(`a split tensor can only be viewed with the same leading dimension`);
    }
    const parts = this.parts.length === 1 ? [{ ...this.parts[0]!, rows: shape[0] ?? 1 }] : this.parts;
    return new Tensor(shape, this.dtype, parts, null, this.label);
  }

  /** Return pooled storage. Views and weights are released by their owner. */
  release(): void {
    if (this.released || !this.owner) return;
    this.released = true;
    this.owner.releaseTensor(this);
  }

  get byteLength(): number { return this.parts.reduce((s, p) => s + p.byteLength, 0); }
  get elementBytes(): number { return bytesPerElement(this.dtype); }
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new ShapeError(`invalid shape [${shape}]`);
    n *= d;
  }
  return n;
}

/**
 * Rows per binding for a tensor with `rowBytes` bytes per leading row under `maxBinding` bytes per binding.
 * Parts start on 4-byte boundaries (16-bit types are packed two per word), so with an odd 16-bit row size the
 * row count per part is kept even.
 */
export function rowsPerPart(rowBytes: number, maxBinding: number): number {
  let rows = Math.floor(maxBinding / rowBytes);
  if (rowBytes % 4 !== 0) rows -= rows % 2;
  if (rows < 1) throw new ShapeError(`one row of ${rowBytes} bytes exceeds the binding limit of ${maxBinding} bytes`);
  return rows;
}
