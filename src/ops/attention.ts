// Attention ops: non-causal segmented attention (ViT window / full / QA with appended inquiry keys), causal GQA
// attention over a KV cache (prefill chunks and a split-K decode path), and KV cache writes.
// Kernels: kernels/attention_segmented.wgsl, kernels/attention_causal.wgsl, kernels/attention_kv_write.wgsl.
// Every kernel reads rows as vec4, so head_dim, strides and offsets must be multiples of 4 (true of every
// model here: head_dim 80 / 128, tiny goldens 8 / 16).
import type { Gpu } from '../runtime/device.js';
import { ContextOverflowError, ShapeError } from '../runtime/errors.js';
import { f32, foldWorkgroups, u32, type Binding, type Recorder } from '../runtime/recorder.js';
import type { Tensor } from '../runtime/tensor.js';
import { checkView, type StridedView } from './view.js';

export interface SegmentedAttentionArgs {
  q: StridedView;
  k: StridedView;
  v: StridedView;
  /** u32 [S+1]: query rows of segment s are cuQ[s]..cuQ[s+1]. */
  cuQ: Tensor;
  /** u32 [S+1]: key/value rows of k/v for segment s. */
  cuKv: Tensor;
  /** Keys/values appended to each segment (QA layers' inquiry keys): rows cu[s]..cu[s+1] of k/v. */
  extra?: { k: StridedView; v: StridedView; cu: Tensor } | undefined;
  heads: number;
  kvHeads: number;
  headDim: number;
  scale: number;
  /** [Nq, heads*headDim]; Nq must equal cuQ[S]. */
  out: Tensor;
  /**
   * Only these row tiles (segmentedTileRows rows each; default all): a long call recorded in pieces, each its own
   * submit, stays cancellable between them. The pieces together must cover every tile.
   */
  tiles?: { first: number; count: number };
}

export interface CausalAttentionArgs {
  q: StridedView;
  /** Query rows T >= 1. */
  rows: number;
  k: StridedView;
  v: StridedView;
  /** Keys before the first query row: query i sees keys 0..past+i. */
  past: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  scale: number;
  /** [>= rows, heads*headDim]; rows 0..rows-1 are written. */
  out: Tensor;
}

/** Target lanes per workgroup of the register-blocked kernels (lavapipe likes small groups, GPUs 32-64). */
const LANES = 32;
/**
 * Decode: at least this many keys per split (amortises the partial write), at most this many splits. A lane walks
 * its split's keys one after another, so on GPUs the walk is short and the splits many (an H200 took 0.5 ms per
 * layer at 64 keys per split, latency-bound at any context; 512 splits made the combine pass the slow one); CPU adapters have few lanes and want long walks.
 */
const DECODE_SPLITS = { cpu: { minKeys: 64, maxSplits: 64 }, gpu: { minKeys: 8, maxSplits: 256 } } as const;
const LOG2E = Math.LOG2E;

function actDtype(gpu: Gpu, tensors: readonly Tensor[], what: string): 'f32' | 'f16' {
  const d = tensors[0]!.dtype;
  if (d !== 'f32' && d !== 'f16') throw new ShapeError(`${what}: activations must be f32 or f16, got ${d}`);
  if (d === 'f16' && !gpu.features.f16) throw new ShapeError(`${what}: f16 activations need shader-f16, which this device lacks`);
  for (const t of tensors) {
    if (t.dtype !== d) throw new ShapeError(`${what}: mixed activation dtypes ${d} and ${t.dtype} (${t.label})`);
    void t.part; // single binding required
  }
  return d;
}

function checkHeads(what: string, heads: number, kvHeads: number, headDim: number, scale: number): void {
  if (!Number.isInteger(heads) || !Number.isInteger(kvHeads) || heads < 1 || kvHeads < 1 || heads % kvHeads !== 0) {
    throw new ShapeError(`${what}: heads ${heads} must be a positive multiple of kvHeads ${kvHeads}`);
  }
  if (!Number.isInteger(headDim) || headDim < 4 || headDim > 128 || headDim % 4 !== 0) {
    throw new ShapeError(`${what}: headDim ${headDim} must be a multiple of 4 in 4..128`);
  }
  if (!Number.isFinite(scale)) throw new ShapeError(`${what}: scale ${scale} is not finite`);
}

function checkAligned(v: StridedView, what: string): void {
  if (v.stride % 4 !== 0 || v.offset % 4 !== 0) {
    throw new ShapeError(`${what}: stride ${v.stride} and offset ${v.offset} must be multiples of 4 (vec4 loads)`);
  }
}

/** Rows of `width` columns addressable through a view (0 when not even one fits). */
function viewRows(v: StridedView, width: number): number {
  const n = v.t.numel;
  if (v.offset + width > n) return 0;
  return v.stride === 0 ? 0xffffffff : Math.floor((n - v.offset - width) / v.stride) + 1;
}

function checkTable(t: Tensor, len: number, what: string): void {
  if (t.dtype !== 'u32' || t.shape.length !== 1 || t.shape[0] !== len) {
    throw new ShapeError(`${what}: expected a u32 table [${len}], got ${t.dtype} [${t.shape}]`);
  }
  void t.part;
}

function checkNoAlias(out: Tensor, inputs: readonly Tensor[], what: string): void {
  for (const t of inputs) {
    if (t.part.buffer === out.part.buffer) throw new ShapeError(`${what}: out must not share a buffer with an input (${t.label})`);
  }
}

const vec4 = (n: number) => n / 4;

function rowsPerGroup(group: number): number { return Math.max(1, Math.floor(LANES / group)); }

/** CPU adapters (lavapipe, SwiftShader): SIMD over lanes, every non-constant-offset load a per-lane scalar load. */

/**
 * Layout of the segmented kernel: `rowsPerLane` query rows per invocation share each key/value load, `rowLanes`
 * row lanes per workgroup (times the GQA group). GPUs: one row per lane, ~32 lanes (loads are cheap and
 * coalesced; registers are what limit occupancy). CPU adapters: 8 rows per lane, 8 lanes (one SIMD batch),
 * because there a load costs more than the 4 FMAs it feeds (bench/NOTES.md, attention section).
 */
export function segmentedPlan(gpu: Gpu, group: number): { rowsPerLane: number; rowLanes: number } {
  return gpu.cpuLayout ? { rowsPerLane: 8, rowLanes: Math.max(1, Math.floor(8 / group)) } : { rowsPerLane: 1, rowLanes: rowsPerGroup(group) };
}

/**
 * Non-causal attention inside segments: segment s's queries cuQ[s]..cuQ[s+1] attend keys cuKv[s]..cuKv[s+1]
 * of k/v, plus rows cu[s]..cu[s+1] of the extra source, in one softmax. Empty segments, segments without
 * queries and segments without keys (zero output rows) are allowed. A table that points outside the views,
 * or rows covered by no segment, produce NaN rows (the tables live on the GPU and cannot be checked here).
 */
export function segmentedAttention(rec: Recorder, gpu: Gpu, a: SegmentedAttentionArgs): void {
  const what = 'segmentedAttention';
  const { q, k, v, extra, heads, kvHeads, headDim, scale, out } = a;
  checkHeads(what, heads, kvHeads, headDim, scale);
  const views = extra ? [q, k, v, extra.k, extra.v] : [q, k, v];
  const dtype = actDtype(gpu, [...views.map((x) => x.t), out], what);
  views.forEach((x, i) => checkAligned(x, `${what} ${['q', 'k', 'v', 'extra.k', 'extra.v'][i]}`));
  const width = heads * headDim;
  const kvWidth = kvHeads * headDim;
  if (out.shape.length !== 2 || out.shape[1] !== width) throw new ShapeError(`${what}: out [${out.shape}] must be [Nq, ${width}]`);
  const nq = out.shape[0]!;
  checkView(q, nq, width, `${what} q`);
  const nseg = a.cuQ.shape[0]! - 1;
  if (nseg < 0 || a.cuQ.shape.length !== 1) throw new ShapeError(`${what}: cuQ must be a u32 table [S+1]`);
  checkTable(a.cuQ, nseg + 1, `${what} cuQ`);
  checkTable(a.cuKv, nseg + 1, `${what} cuKv`);
  if (extra) checkTable(extra.cu, nseg + 1, `${what} extra.cu`);
  checkNoAlias(out, [...views.map((x) => x.t), a.cuQ, a.cuKv, ...(extra ? [extra.cu] : [])], what);

  const vInK = v.t.part.buffer === k.t.part.buffer;
  const evInEk = extra ? extra.v.t.part.buffer === extra.k.t.part.buffer : false;
  if (extra && !vInK && !evInEk) {
    throw new ShapeError(`${what}: k and v, or extra.k and extra.v, must share a buffer (9 storage bindings exceed the 8 every device has)`);
  }
  const group = heads / kvHeads;
  const plan = segmentedPlan(gpu, group);
  const rows = plan.rowsPerLane * plan.rowLanes;
  const pipe = gpu.pipeline('attention_segmented', {
    defines: { ACT_F16: dtype === 'f16', V_IN_K: vInK, EXTRA: !!extra, EV_IN_EK: evInEk, MULTI: plan.rowsPerLane > 1 },
    constants: { HD4: headDim / 4, GROUP: group, NR: plan.rowsPerLane, LR: plan.rowLanes },
  });
  const kRows = Math.min(viewRows(k, kvWidth), viewRows(v, kvWidth), 0xffffffff);
  const ekRows = extra ? Math.min(viewRows(extra.k, kvWidth), viewRows(extra.v, kvWidth), 0xffffffff) : 0;
  const params = [
    u32(nq), u32(nseg), u32(vec4(q.stride)), u32(vec4(q.offset)), u32(vec4(k.stride)), u32(vec4(k.offset)),
    u32(vec4(v.stride)), u32(vec4(v.offset)), u32(kRows),
    u32(extra ? vec4(extra.k.stride) : 0), u32(extra ? vec4(extra.k.offset) : 0),
    u32(extra ? vec4(extra.v.stride) : 0), u32(extra ? vec4(extra.v.offset) : 0), u32(ekRows),
    f32(scale * LOG2E), u32(headDim / 4), u32(0),
  ];
  const bindings: Binding[] = [q.t, k.t, a.cuQ, a.cuKv, out];
  if (!vInK) bindings.push(v.t);
  if (extra) {
    bindings.push(extra.k.t, extra.cu);
    if (!evInEk) bindings.push(extra.v.t);
  }
  const tiles = Math.ceil(nq / rows);
  const first = a.tiles?.first ?? 0;
  const count = a.tiles ? Math.min(a.tiles.count, tiles - first) : tiles;
  if (!Number.isInteger(first) || first < 0 || (a.tiles && !(Number.isInteger(a.tiles.count) && a.tiles.count > 0))) {
    throw new ShapeError(`${what}: tiles {first: ${first}, count: ${a.tiles?.count}} must be integers >= 0 and >= 1`);
  }
  params[params.length - 1] = u32(first);
  const [x, y] = foldWorkgroups(count);
  if (nq > 0 && count > 0) rec.dispatch(pipe, params, bindings, [x, y, kvHeads]);
}

/** Query rows per tile of segmentedAttention (the unit of `tiles`) for this device and head grouping. */
export function segmentedTileRows(gpu: Gpu, heads: number, kvHeads: number): number {
  const plan = segmentedPlan(gpu, heads / kvHeads);
  return plan.rowsPerLane * plan.rowLanes;
}

export interface CausalPlan { rowsPerLane: number; headsPerLane: number; rowLanes: number }

/** Largest divisor of `n` that is at most `cap`. */
function divisorAtMost(n: number, cap: number): number {
  for (let d = Math.min(n, cap); d > 1; d--) if (n % d === 0) return d;
  return 1;
}

/**
 * Layout of the causal kernel: a lane owns `rowsPerLane` rows x `headsPerLane` heads of one GQA group (all
 * sharing each key/value load), `rowLanes` row lanes per workgroup (decode: splits per workgroup). GPUs: one
 * (row, head) per lane as before. CPU adapters: up to 8 vectors per lane, heads of the group first (for decode
 * this streams the cache once per kv head instead of once per query head).
 */
export function causalPlan(gpu: Gpu, group: number, decode: boolean): CausalPlan {
  if (!gpu.cpuLayout) {
    return decode ? { rowsPerLane: 1, headsPerLane: 1, rowLanes: Math.max(1, Math.floor(2 * LANES / group)) }
      : { rowsPerLane: 1, headsPerLane: 1, rowLanes: rowsPerGroup(group) };
  }
  const headsPerLane = divisorAtMost(group, 8);
  const lanesPerRow = group / headsPerLane;
  return { rowsPerLane: decode ? 1 : Math.max(1, Math.floor(8 / headsPerLane)), headsPerLane, rowLanes: Math.max(1, Math.floor(8 / lanesPerRow)) };
}

/** Per-device scratch for the decode partials (grown on demand; dispatches run in order, so one suffices). */
const decodeScratch = new WeakMap<Gpu, Tensor>();

function scratch(gpu: Gpu, floats: number): Tensor {
  let t = decodeScratch.get(gpu);
  if (!t || t.numel < floats) {
    t?.release();
    t = gpu.tensor([Math.max(floats, 4096)], 'f32', 'attention-decode-partials');
    decodeScratch.set(gpu, t);
  }
  return t;
}

/** Keys per split and split count of the decode path for a context of `ctx` keys (CPU or GPU kernel layout). */
export function decodeSplits(ctx: number, gpuLayout = false): { keysPerSplit: number; splits: number } {
  const { minKeys, maxSplits } = DECODE_SPLITS[gpuLayout ? 'gpu' : 'cpu'];
  const keysPerSplit = Math.max(minKeys, Math.ceil(ctx / maxSplits));
  return { keysPerSplit, splits: Math.ceil(ctx / keysPerSplit) };
}

/**
 * Causal GQA attention: query row i (absolute position past+i) sees keys 0..past+i of k/v (views over a KV
 * cache or over the sequence's own qkv buffer). T == 1 takes the flash-decoding path (key axis split across
 * workgroups, then a combine pass).
 */
export function causalAttention(rec: Recorder, gpu: Gpu, a: CausalAttentionArgs): void {
  const what = 'causalAttention';
  const { q, rows, k, v, past, heads, kvHeads, headDim, scale, out } = a;
  checkHeads(what, heads, kvHeads, headDim, scale);
  if (!Number.isInteger(rows) || rows < 1) throw new ShapeError(`${what}: rows ${rows} must be >= 1`);
  if (!Number.isInteger(past) || past < 0) throw new ShapeError(`${what}: past ${past} must be a non-negative integer`);
  const dtype = actDtype(gpu, [q.t, k.t, v.t, out], what);
  checkAligned(q, `${what} q`);
  checkAligned(k, `${what} k`);
  checkAligned(v, `${what} v`);
  const width = heads * headDim;
  const kvWidth = kvHeads * headDim;
  if (out.shape.length !== 2 || out.shape[1] !== width || out.shape[0]! < rows) {
    throw new ShapeError(`${what}: out [${out.shape}] must be [>= ${rows}, ${width}]`);
  }
  checkView(q, rows, width, `${what} q`);
  checkView(k, past + rows, kvWidth, `${what} k`);
  checkView(v, past + rows, kvWidth, `${what} v`);
  checkNoAlias(out, [q.t, k.t, v.t], what);
  const group = heads / kvHeads;
  const dtype16 = dtype === 'f16';
  const view = [u32(vec4(q.stride)), u32(vec4(q.offset)), u32(vec4(k.stride)), u32(vec4(k.offset)),
    u32(vec4(v.stride)), u32(vec4(v.offset))];
  const constants = (plan: CausalPlan) => ({ HD4: headDim / 4, GROUP: group, NR: plan.rowsPerLane, NH: plan.headsPerLane, LR: plan.rowLanes });
  const defines = (plan: CausalPlan) => ({ ACT_F16: dtype16, MULTI: plan.rowsPerLane * plan.headsPerLane > 1 });

  if (rows === 1) {
    const { keysPerSplit, splits } = decodeSplits(past + 1, !gpu.cpuLayout);
    const plan = causalPlan(gpu, group, true);
    // Sized for the most splits any context gets, so growing contexts never reallocate (a warm step allocates nothing).
    const part = scratch(gpu, heads * DECODE_SPLITS[gpu.cpuLayout ? 'cpu' : 'gpu'].maxSplits * (headDim + 4));
    const params = [u32(1), u32(past), ...view, u32(keysPerSplit), u32(splits), f32(scale * LOG2E), u32(headDim / 4)];
    const pass1 = gpu.pipeline('attention_causal', { defines: { ...defines(plan), DECODE: true }, constants: constants(plan) });
    rec.dispatch(pass1, params, [q.t, k.t, v.t, part], [Math.ceil(splits / plan.rowLanes), kvHeads]);
    const pass2 = gpu.pipeline('attention_causal', { defines: { ACT_F16: dtype16, COMBINE: true }, constants: { HD4: headDim / 4 } });
    rec.dispatch(pass2, params, [part, out], [heads]);
    return;
  }
  const plan = causalPlan(gpu, group, false);
  const pipe = gpu.pipeline('attention_causal', { defines: defines(plan), constants: constants(plan) });
  const [x, y] = foldWorkgroups(Math.ceil(rows / (plan.rowsPerLane * plan.rowLanes)));
  rec.dispatch(pipe, [u32(rows), u32(past), ...view, u32(0), u32(0), f32(scale * LOG2E), u32(headDim / 4)], [q.t, k.t, v.t, out], [x, y, kvHeads]);
}

/**
 * Copy `rows` new (already rotated) k or v rows from a strided view into a KV cache layer tensor
 * [capacity, kvHeads*headDim] at row `at`. Throws ContextOverflowError when they do not fit.
 */
export function writeKv(rec: Recorder, gpu: Gpu, src: StridedView, rows: number, dst: Tensor, at: number): void {
  const what = 'writeKv';
  if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(at) || at < 0) {
    throw new ShapeError(`${what}: rows ${rows} and at ${at} must be non-negative integers`);
  }
  if (dst.shape.length !== 2) throw new ShapeError(`${what}: cache tensor [${dst.shape}] must be [capacity, width]`);
  const dtype = actDtype(gpu, [src.t, dst], what);
  const w = dst.shape[1]!;
  if (w % 4 !== 0) throw new ShapeError(`${what}: row width ${w} must be a multiple of 4`);
  checkAligned(src, `${what} src`);
  checkView(src, rows, w, `${what} src`);
  if (at + rows > dst.shape[0]!) throw new ContextOverflowError(dst.shape[0]!, at + rows);
  checkNoAlias(dst, [src.t], what);
  if (rows === 0) return;
  const pipe = gpu.pipeline('attention_kv_write', { defines: { ACT_F16: dtype === 'f16' } });
  rec.dispatch(pipe, [u32(rows), u32(w / 4), u32(src.stride / 4), u32(src.offset / 4), u32(at)], [src.t, dst],
    foldWorkgroups(Math.ceil((rows * w) / 4 / 64)));
}
