// Rotary embedding ops: applyRope (kernels/rope.wgsl) rotates heads in place; q and k heads that sit next to each
// other in a fused qkv buffer are rotated by one call. ropeWriteKv (kernels/rope_kv.wgsl) also writes the KV cache.
import type { Gpu } from '../runtime/device.js';
import { ShapeError } from '../runtime/errors.js';
import { foldWorkgroups, u32, type Recorder } from '../runtime/recorder.js';
import type { Tensor } from '../runtime/tensor.js';
import { actDtype, requireDistinct, requireDtype, requirePositiveInt } from './checks.js';
import { CPU_UNIT_WORKGROUP } from './layout.js';
import { checkView, type StridedView } from './view.js';
import { ContextOverflowError } from '../runtime/errors.js';

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

export interface RopeWriteKvArgs {
  /** [≥ rows, (heads + 2·kvHeads)·headDim]: per row q heads, then k heads, then v heads (a fused qkv output). */
  qkv: Tensor;
  rows: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  /** [rows, headDim] f32: cos θ then sin θ per row (src/model/rope-tables.ts). */
  table: Tensor;
  /** KV-cache layer tensors [capacity, kvHeads·headDim] (src/model/kv-cache.ts). */
  kCache: Tensor;
  vCache: Tensor;
  /** Cache row of qkv row 0. */
  at: number;
}

/**
 * One dispatch (kernels/rope_kv.wgsl): rotate the q heads of `rows` qkv rows in place, and store the rotated k
 * heads and the v heads in the caches at rows at..at+rows-1 (what applyRope ×2 + writeKv ×2 do). headDim must be
 * even (vectors of 4 when headDim % 8 == 0) and the caches distinct buffers from qkv. ContextOverflowError when the
 * rows do not fit.
 */
export function ropeWriteKv(rec: Recorder, gpu: Gpu, a: RopeWriteKvArgs): void {
  const what = 'ropeWriteKv';
  const { qkv, rows, heads, kvHeads, headDim, table, kCache, vCache, at } = a;
  const dtype = actDtype(gpu, what, qkv, kCache, vCache);
  requireDtype(table, 'f32', `${what} table`);
  requirePositiveInt(heads, `${what} heads`);
  requirePositiveInt(kvHeads, `${what} kvHeads`);
  requirePositiveInt(headDim, `${what} headDim`);
  if (headDim % 2 !== 0) throw new ShapeError(`${what}: headDim ${headDim} must be even`);
  if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(at) || at < 0) throw new ShapeError(`${what}: rows ${rows} and at ${at} must be non-negative integers`);
  const width = (heads + 2 * kvHeads) * headDim;
  if (qkv.shape.length !== 2 || qkv.shape[1] !== width || qkv.shape[0]! < rows) throw new ShapeError(`${what}: qkv [${qkv.shape}] must be [>= ${rows}, ${width}]`);
  if (table.shape.length !== 2 || table.shape[0] !== rows || table.shape[1] !== headDim) throw new ShapeError(`${what}: table [${table.shape}] must be [${rows}, ${headDim}]`);
  const kvWidth = kvHeads * headDim;
  for (const [t, name] of [[kCache, 'kCache'], [vCache, 'vCache']] as const) {
    if (t.shape.length !== 2 || t.shape[1] !== kvWidth) throw new ShapeError(`${what}: ${name} [${t.shape}] must be [capacity, ${kvWidth}]`);
    if (at + rows > t.shape[0]!) throw new ContextOverflowError(t.shape[0]!, at + rows);
  }
  requireDistinct(what, [qkv, kCache, vCache], [table]);
  if (rows === 0) return;
  // Items of 4 elements when every head half is a whole number of them, else single elements.
  const vec4 = headDim % 8 === 0;
  const e = vec4 ? 4 : 1;
  const halfItems = headDim / 2 / e;
  const split = gpu.cpuLayout ? 1 : halfItems;
  const wg = gpu.cpuLayout ? CPU_UNIT_WORKGROUP : 256;
  const n = rows * (heads + 2 * kvHeads) * split;
  const pipe = gpu.pipeline('rope_kv', { defines: { ACT_F16: dtype === 'f16', VEC4: vec4 }, constants: { WG: wg } });
  rec.dispatch(pipe, [u32(n), u32(heads), u32(kvHeads), u32(halfItems), u32(split), u32(width / e), u32(0),
    u32(heads * headDim / e), u32((heads + kvHeads) * headDim / e), u32(at)], [qkv, table, kCache, vCache],
  foldWorkgroups(Math.ceil(n / wg)));
}
