// Rotary embedding op (kernels/rope.wgsl). q and k heads that sit next to each other in a fused qkv buffer are
// rotated by one call: a view over both with heads = qHeads + kHeads.
import type { Gpu } from '../runtime/device.js';
import { ShapeError } from '../runtime/errors.js';
import { foldWorkgroups, u32, type Recorder } from '../runtime/recorder.js';
import type { Tensor } from '../runtime/tensor.js';
import { actDtype, requireDistinct, requireDtype, requirePositiveInt } from './checks.js';
import { CPU_UNIT_WORKGROUP } from './layout.js';
import { checkView, type StridedView } from './view.js';

/**
 * In place: each of `heads` heads of each of `rows` rows of `view` (head h of row r = headDim elements at
 * r*stride + offset + h*headDim) becomes x·cos + rotate_half(x)·sin, with table [rows, headDim] f32 holding
 * cos θ in columns 0..headDim/2-1 and sin θ in the rest (src/ops/rope-tables.ts).
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
  if (rows === 0) return;
  const half = headDim / 2;
  const vec4 = half % 4 === 0 && view.stride % 4 === 0 && view.offset % 4 === 0;
  const k = vec4 ? 4 : 1;
  // CPU adapters: one invocation per row (all heads); GPUs: one per (row, head, item).
  const row = gpu.cpuLayout;
  const wg = row ? CPU_UNIT_WORKGROUP : 256;
  const n = row ? rows : rows * heads * (half / k);
  const pipe = gpu.pipeline('rope', { defines: { ACT_F16: dtype === 'f16', VEC4: vec4, ROW: row }, constants: { WG: wg } });
  rec.dispatch(pipe, [u32(n), u32(heads), u32(half / k), u32(view.stride / k), u32(view.offset / k)], [view.t, table],
    foldWorkgroups(Math.ceil(n / wg)));
}
