// The image feature rows one prefill scatters into its prompt: each new image block's rows, taken from the
// features of its query group, in pad order. When they already are one group's tensor, whole and in order, it is
// used as is; otherwise the rows are copied (GPU buffer copies, one submit) into a new tensor the caller owns.
import type { Gpu } from '../runtime/device.js';
import type { Tensor } from '../runtime/tensor.js';
import type { ImageRows } from './llm.js';

/** One image block: `rows` feature rows of `tensor` from row `row0`, for the pad tokens at `padStart`.. of the prefill. */
export interface ImageRowSource {
  tensor: Tensor;
  row0: number;
  rows: number;
  /** Index within the prefilled ids of the block's first `<|image_pad|>`. */
  padStart: number;
}

/** The ImageRows of `sources` (in prompt order), and the tensor to release after the prefill (null: none made). */
export function assembleImageRows(gpu: Gpu, sources: readonly ImageRowSource[]): { rows: ImageRows | null; owned: Tensor | null } {
  if (sources.length === 0) return { rows: null, owned: null };
  const padRows: number[] = [];
  for (const s of sources) for (let r = 0; r < s.rows; r++) padRows.push(s.padStart + r);
  const first = sources[0]!.tensor;
  const whole = sources.every((s) => s.tensor === first) && sources[0]!.row0 === 0 && padRows.length === first.rows &&
    sources.every((s, i) => i === 0 || s.row0 === sources[i - 1]!.row0 + sources[i - 1]!.rows);
  if (whole) return { rows: { features: first, padRows }, owned: null };
  const out = gpu.tensor([padRows.length, first.rowSize], first.dtype, 'imageRows');
  const rowBytes = first.rowSize * first.elementBytes;
  const rec = gpu.recorder();
  try {
    let at = 0;
    for (const s of sources) {
      rec.copy(s.tensor.buffer, s.tensor.part.byteOffset + s.row0 * rowBytes, out.buffer, out.part.byteOffset + at * rowBytes, s.rows * rowBytes);
      at += s.rows;
    }
    rec.submit();
  } finally {
    rec.release();
  }
  return { rows: { features: out, padRows }, owned: out };
}
