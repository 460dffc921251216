// Rotary embedding op (kernels/rope.wgsl). q and k heads that sit next to each other in a fused qkv buffer are
// rotated by one call: a view over both with heads = qHeads + kHeads.
import type { Gpu } from '../runtime/device.js';
import { ShapeError } from '../runtime/errors.js';
import { foldWorkgroups, u32, type Recorder } from '../runtime/recorder.js';
import type { Tensor } from '../runtime/tensor.js';
import { actDtype, requireDistinct, requireDtype, requirePositiveInt } from './checks.js';
import { checkView, type StridedView } from './view.js';

const WG = 256;

/**
 * In place: each of `heads` heads of each of `rows` rows of `view` (head h of row r = headDim elements at
 * r*stride + offset + h*headDim) becomes x·cos + rotate_half(x)·sin, with table [rows, headDim] f32 holding
 * cos θ in columns 0..headDim/2-1 and sin θ in the rest (src/model/rope-tables.ts).
 */
export function applyRope(rec: Recorder, gpu: Gpu, view: StridedView, rows: number, heads: number, headDim: number,
  table: Tensor): void {
  const dtype = actDtype(gpu, 'applyRope', view.t);
  requireDtype(table, 'f32', 'applyRope table');
  requirePositiveInt(heads, 'applyRope heads');
  requirePositiveInt(headDim, 'applyRope headDim');
  if (headDim % 2 !== 0) throw new ShapeError(`applyRope: headDim ${headDim} must be even`);
  if (!Number.isInteger(rows) || rows < 0) throw new ShapeError(`applyRope: bad row count ${rows}`);
  if (table.shape.length !== 2 || table.shape[0] !== rows || table.shape[1] !== headDim) {
    throw new ShapeError(`applyRope: table [${table.shape}] must be [${rows}, ${headDim}]`);
  }
  checkView(view, rows, heads * headDim, 'applyRope');
  requireDistinct('applyRope', [view.t], [table]);
  const n = rows * heads * (headDim / 2);
  if (n === 0) return;
  const pipe = gpu.pipeline('rope', { defines: { ACT_F16: dtype === 'f16' } });
  rec.dispatch(pipe, [u32(n), u32(heads), u32(headDim / 2), u32(view.stride), u32(view.offset)], [view.t, table],
    foldWorkgroups(Math.ceil(n / WG)));
}
