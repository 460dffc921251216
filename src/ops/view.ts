// A strided view addresses row r, column c of a single-part tensor at element r*stride + offset + c, so ops can
// read q/k/v or gate/up straight out of fused buffers without copies.
import type { Tensor } from '../runtime/tensor.js';
import { ShapeError } from '../runtime/errors.js';

export interface StridedView {
  readonly t: Tensor;
  readonly stride: number;
  readonly offset: number;
}

/** Whole-row view of a [rows, cols] tensor. */
export function rowsOf(t: Tensor): StridedView {
  return { t, stride: t.rowSize, offset: 0 };
}

/** Columns [offset, offset + width) of a [rows, stride] tensor. */
export function columns(t: Tensor, offset: number, width: number): StridedView {
  if (offset < 0 || offset + width > t.rowSize) {
    throw new ShapeError(`columns ${offset}..${offset + width} outside a row of ${t.rowSize}`);
  }
  return { t, stride: t.rowSize, offset };
}

/** Throw unless `rows` rows of `width` columns fit inside the view's tensor. */
export function checkView(v: StridedView, rows: number, width: number, what: string): void {
  if (!Number.isInteger(v.stride) || !Number.isInteger(v.offset) || v.stride < 0 || v.offset < 0) {
    throw new ShapeError(`${what}: bad view stride ${v.stride} offset ${v.offset}`);
  }
  if (v.offset + width > v.stride && rows > 1) throw new ShapeError(`${what}: ${width} columns at offset ${v.offset} overrun the row stride ${v.stride}`);
  const need = rows === 0 ? 0 : (rows - 1) * v.stride + v.offset + width;
  if (need > v.t.numel) throw new ShapeError(`${what}: view needs ${need} elements, tensor [${v.t.shape}] has ${v.t.numel}`);
}
