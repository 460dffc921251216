// Row movement ops (kernels/rows.wgsl): the ViT window permutation (units of 4 patch rows), its inverse and the
// image-feature scatter into <|image_pad|> rows (single rows), and the token embedding gather.
import type { Gpu } from '../runtime/device.js';
import { ShapeError } from '../runtime/errors.js';
import { foldWorkgroups, u32, type Recorder } from '../runtime/recorder.js';
import type { Tensor } from '../runtime/tensor.js';
import { actDtype, requireDistinct, requireDtype, requirePositiveInt } from './checks.js';
import { streamLayout } from './layout.js';

/** NaN bit patterns for invalid indices (f16: two halves, the kernel takes the low one). */
const NAN_BITS = { f32: 0x7fc00000, f16: 0x7e007e00 } as const;

function checkUnits(what: string, src: Tensor, dst: Tensor, index: Tensor, unit: number, indexed: Tensor): void {
  requirePositiveInt(unit, `${what} unit`);
  requireDtype(index, 'u32', `${what} index`);
  if (src.shape.length !== 2 || dst.shape.length !== 2 || src.shape[1] !== dst.shape[1]) {
    throw new ShapeError(`${what}: src [${src.shape}] and dst [${dst.shape}] must be [rows, D] with the same D`);
  }
  for (const t of [src, dst]) {
    if (t.rows % unit !== 0) throw new ShapeError(`${what}: ${t.rows} rows are not a multiple of the unit ${unit}`);
  }
  if (index.numel !== indexed.rows / unit) {
    throw new ShapeError(`${what}: index has ${index.numel} entries, expected ${indexed.rows / unit} (${indexed.rows} rows / unit ${unit})`);
  }
  requireDistinct(what, [dst], [src, index]);
}

function moveRows(rec: Recorder, gpu: Gpu, what: string, scatter: boolean, src: Tensor, index: Tensor, dst: Tensor,
  unit: number): void {
  const dtype = actDtype(gpu, what, src, dst);
  checkUnits(what, src, dst, index, unit, scatter ? src : dst);
  const unitElems = unit * src.rowSize;
  if (index.numel * unitElems === 0) return;
  const vec4 = unitElems % 4 === 0;
  const unitItems = vec4 ? unitElems / 4 : unitElems;
  const n = index.numel * unitItems;
  const { workgroup, perInvocation } = streamLayout(gpu);
  const pipe = gpu.pipeline('rows', {
    defines: { ACT_F16: dtype === 'f16', SCATTER: scatter, VEC4: vec4 }, constants: { WG: workgroup, PER: perInvocation },
  });
  const params = [u32(n), u32(unitItems), u32(src.rows / unit), u32(dst.rows / unit), u32(NAN_BITS[dtype])];
  rec.dispatch(pipe, params, [src, index, dst], foldWorkgroups(Math.ceil(n / (workgroup * perInvocation))));
}

/**
 * dst unit i = src unit index[i], a unit being `unit` consecutive rows; index u32 [dst.rows / unit]. An index
 * past the end of src yields NaN rows.
 */
export function gatherRows(rec: Recorder, gpu: Gpu, src: Tensor, index: Tensor, dst: Tensor, unit: number): void {
  moveRows(rec, gpu, 'gatherRows', false, src, index, dst, unit);
}

/**
 * dst unit index[i] = src unit i; index u32 [src.rows / unit], entries distinct (otherwise which write wins is
 * undefined). Rows of dst not named keep their contents; an index past the end of dst is skipped.
 */
export function scatterRows(rec: Recorder, gpu: Gpu, src: Tensor, index: Tensor, dst: Tensor, unit: number): void {
  moveRows(rec, gpu, 'scatterRows', true, src, index, dst, unit);
}

/**
 * out[t, :] = table[ids[t], :] widened to the activation dtype. The table [V, D] (f32, f16 or bf16) may be split
 * by rows across bindings: one dispatch per part, each writing the ids in its row range. Ids >= V give NaN rows.
 */
export function embed(rec: Recorder, gpu: Gpu, table: Tensor, ids: Tensor, out: Tensor): void {
  const dtype = actDtype(gpu, 'embed', out);
  requireDtype(ids, 'u32', 'embed ids');
  if (table.dtype !== 'f32' && table.dtype !== 'f16' && table.dtype !== 'bf16') {
    throw new ShapeError(`embed: table must be f32, f16 or bf16, got ${table.dtype}`);
  }
  if (table.shape.length !== 2) throw new ShapeError(`embed: table must be [V, D], got [${table.shape}]`);
  const [vocab, d] = table.shape as [number, number];
  requirePositiveInt(vocab, 'embed vocabulary size');
  const t = ids.numel;
  if (out.shape.length !== 2 || out.shape[0] !== t || out.shape[1] !== d) {
    throw new ShapeError(`embed: out [${out.shape}] must be [${t}, ${d}] for ${t} ids and table [${table.shape}]`);
  }
  if (ids.part.buffer === out.part.buffer) throw new ShapeError('embed: ids and out share a GPU buffer');
  if (t * d === 0) return;
  // Items of 8 elements (one vec4<u32>) from 16-bit tables, of 4 from f32 tables, where the row length allows.
  const wide = table.dtype === 'f32' ? 4 : 8;
  const k = d % wide === 0 ? wide : 1;
  const items = d / k;
  const n = t * items;
  const { workgroup, perInvocation } = streamLayout(gpu);
  const pipe = gpu.pipeline('rows', {
    defines: {
      ACT_F16: dtype === 'f16', EMBED: true, VEC4: k === 4, VEC8: k === 8,
      W_F16: table.dtype === 'f16', W_BF16: table.dtype === 'bf16',
    },
    constants: { WG: workgroup, PER: perInvocation },
  });
  const grid = foldWorkgroups(Math.ceil(n / (workgroup * perInvocation)));
  for (const part of table.parts) {
    if (part.rows === 0) continue;
    rec.dispatch(pipe, [u32(n), u32(items), u32(part.row0), u32(part.rows), u32(vocab), u32(NAN_BITS[dtype])], [part, ids, out], grid);
  }
}
