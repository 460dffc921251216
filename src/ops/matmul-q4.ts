// Linear layers with 4-bit weights: y = x·Wᵀ (+ b), optionally accumulated into y, where W[n, k] =
// (code[n, k] − zero[n, k/group])·scale[n, k/group] is never materialised: kernels/matmul_vec_q4.wgsl (one row of x)
// and kernels/matmul_q4.wgsl or, on CPU adapters with subgroups, kernels/matmul_q4_subgroup.wgsl (many) unpack the
// codes inside the dot product.
//
// The weight lives in the engine's q4 layout (`packQ4`, also the layout of kernels/_q4.wgsl): per weight row, K/8
// u32 words of codes (element 8j+i in bits 4i..4i+3 of word j) and K/group u32 group words (f16 scale bits in the
// low half, the zero point in the high half). Checkpoint formats (AWQ: src/model/awq.ts) are converted into it at
// load. A weight larger than one binding is cut into row slices; each slice is one dispatch writing its own range
// of output columns. On CPU adapters the code words of each 32 rows are interleaved word by word (`q4RowBlock`,
// kernels/_q4.wgsl Q4_ROW_BLOCKS): the weight records which, and every q4 kernel reads both.
import type { Gpu } from '../runtime/device.js';
import type { ActDType } from '../runtime/dtype.js';
import { ShapeError } from '../runtime/errors.js';
import type { KernelDefines } from '../runtime/kernels.js';
import type { Pipeline } from '../runtime/pipeline-cache.js';
import { f32, foldWorkgroups, u32, type Recorder } from '../runtime/recorder.js';
import type { Tensor } from '../runtime/tensor.js';
import {
  canShareRowsInSubgroups, checkLinearOperands, checkSubgroupRowsPlan, SUBGROUP_LANES, subgroupRowsWorkgroups, type LinearOptions, type NormIn,
} from './matmul.js';

/** Group sizes the q4 kernels accept: a multiple of one code word (8 elements). */
export const Q4_GROUP_MULTIPLE = 8;

/** Codes, zero points and scales of one 4-bit matrix [n, k] in plain arrays (row-major, n = output rows). */
export interface Q4Parts {
  n: number;
  k: number;
  group: number;
  /** n·k codes 0..15, element [row, col] at row·k + col. */
  codes: Uint8Array;
  /** n·(k/group) zero points 0..15. */
  zeros: Uint8Array;
  /** n·(k/group) scales as f16 bit patterns. */
  scales: Uint16Array;
}

/** One row slice of a q4 weight on the GPU: rows row0 .. row0 + rows of the matrix. */
export interface Q4Slice {
  readonly row0: number;
  readonly rows: number;
  /** u32 [rows, k/8] codes (row blocks of 32: rows rounded up to whole blocks, the pad rows zero). */
  readonly codes: Tensor;
  /** u32 [rows, k/group] scale (f16, low half) and zero point (high half). */
  readonly groups: Tensor;
}

/** A 4-bit weight matrix [n, k] on the GPU (see the file comment for the layout). */
export interface Q4Weight {
  readonly kind: 'q4';
  /** [n, k]: output rows × input width, like a float weight's shape. */
  readonly shape: readonly [number, number];
  readonly group: number;
  /** 1: code words row-major; 32: the words of each 32 rows interleaved (kernels/_q4.wgsl Q4_ROW_BLOCKS). */
  readonly rowBlock: Q4RowBlock;
  readonly slices: readonly Q4Slice[];
  readonly byteLength: number;
  readonly label: string;
}

export function isQ4(w: unknown): w is Q4Weight {
  return typeof w === 'object' && w !== null && (w as { kind?: unknown }).kind === 'q4';
}

/** How the code words of a q4 weight are laid out on the GPU (see `Q4Weight.rowBlock`). */
export type Q4RowBlock = 1 | 32;
const ROW_BLOCK = 32;

/** Bytes one weight row takes on the GPU (codes + group words). */
export function q4RowBytes(k: number, group: number): number {
  return (k / 8) * 4 + (k / group) * 4;
}

function checkQ4Dims(n: number, k: number, group: number, what: string): void {
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(k) || k < 1) throw new ShapeError(`${what}: bad shape [${n}, ${k}]`);
  if (!Number.isInteger(group) || group < Q4_GROUP_MULTIPLE || group % Q4_GROUP_MULTIPLE !== 0) {
    throw new ShapeError(`${what}: group size ${group} is not a positive multiple of ${Q4_GROUP_MULTIPLE}`);
  }
  if (k % group !== 0) throw new ShapeError(`${what}: group size ${group} does not divide the input width ${k}`);
}

/**
 * A q4 weight packed for upload: code words in the layout `rowBlock` says (row-major [n, k/8] when absent; row
 * blocks of 32: whole blocks, [⌈n/32⌉·32, k/8] words, the pad rows zero) and group words [n, k/group].
 */
export interface PackedQ4 { codes: Uint32Array; groups: Uint32Array; rowBlock?: Q4RowBlock }

/**
 * The kernel layout of `q` (see the file comment), its codes written straight into `rowBlock`'s order (what the
 * adapter reads: `q4RowBlock`), so the upload copies nothing.
 */
export function packQ4(q: Q4Parts, rowBlock: Q4RowBlock = 1): PackedQ4 {
  const { n, k, group } = q;
  checkQ4Dims(n, k, group, 'packQ4');
  const g = k / group;
  if (q.codes.length !== n * k || q.zeros.length !== n * g || q.scales.length !== n * g) {
    throw new ShapeError(`packQ4: arrays do not match [${n}, ${k}] with group ${group}`);
  }
  const cw = k / 8;
  const codes = new Uint32Array(Math.ceil(n / rowBlock) * rowBlock * cw);
  for (let r = 0; r < n; r++) {
    // Word j of row r where kernels/_q4.wgsl q4Word reads it: row-major r·cw + j; in blocks (r − r%32)·cw + j·32 + r%32.
    const at = rowBlock === 1 ? r * cw : (r - (r % rowBlock)) * cw + (r % rowBlock);
    const step = rowBlock === 1 ? 1 : rowBlock;
    for (let j = 0; j < cw; j++) {
      let word = 0;
      const e = (r * cw + j) * 8;
      for (let i = 0; i < 8; i++) word |= (q.codes[e + i]! & 15) << (4 * i);
      codes[at + j * step] = word >>> 0;
    }
  }
  const groups = new Uint32Array(n * g);
  for (let i = 0; i < groups.length; i++) groups[i] = (q.scales[i]! | ((q.zeros[i]! & 15) << 16)) >>> 0;
  return { codes, groups, rowBlock };
}

/** The part of Gpu that uploads weights (the weight loader passes a recording fake in tests). */
export type Q4Uploader = Pick<Gpu, 'maxBindingBytes' | 'upload' | 'destroyTensor'>;

/**
 * The code layout for a weight with groups of `group` on this adapter: row blocks of 32 where the CPU layouts with
 * subgroups run (SHARE_X and kernels/matmul_q4_subgroup.wgsl: 8 lanes × 4 rows, one block, per word step;
 * 0.86-0.97x the time on lavapipe, bench/NOTES.md), row-major elsewhere (GPU layouts: not measured with blocks).
 */
export function q4RowBlock(gpu: Pick<Gpu, 'features' | 'adapter' | 'cpuLayout'>, group: number): Q4RowBlock {
  return gpu.cpuLayout && canShareX(gpu, group) ? ROW_BLOCK : 1;
}

/**
 * Rows r0 .. r0 + rows of `from` (codes in row blocks of `fromBlock`; 1: row-major) as rows 0 .. rows in row blocks
 * of `toBlock`, pad rows zero. Only where a weight is uploaded in a layout other than the one it was packed in.
 */
function relayout(from: Uint32Array, fromBlock: Q4RowBlock, cw: number, r0: number, rows: number, toBlock: Q4RowBlock): Uint32Array {
  const out = new Uint32Array(Math.ceil(rows / toBlock) * toBlock * cw);
  const index = (r: number, j: number, b: Q4RowBlock) => (r - (r % b)) * cw + j * b + (r % b);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < cw; j++) out[index(r, j, toBlock)] = from[index(r0 + r, j, fromBlock)]!;
  }
  return out;
}

/**
 * Upload a packed q4 weight [n, k], cut into row slices so that neither the code words nor the group words of a
 * slice exceed one binding, its codes laid out as `layout` says (default: as packed; slices then hold whole
 * blocks of rows but the last), or row-major where one block would not fit a binding. Codes packed in that layout
 * upload as they are; others are reordered into a copy.
 */
export function uploadQ4(gpu: Q4Uploader, packed: PackedQ4, n: number, k: number, group: number, label = 'q4 weight',
  layout: Q4RowBlock = packed.rowBlock ?? 1): Q4Weight {
  checkQ4Dims(n, k, group, `uploadQ4 ${label}`);
  const cw = k / 8;
  const gw = k / group;
  const packedBlock = packed.rowBlock ?? 1;
  if (packed.codes.length !== Math.ceil(n / packedBlock) * packedBlock * cw || packed.groups.length !== n * gw) {
    throw new ShapeError(`uploadQ4 ${label}: arrays do not match [${n}, ${k}]${packedBlock > 1 ? ` in row blocks of ${packedBlock}` : ''}`);
  }
  const fit = Math.floor(gpu.maxBindingBytes / (cw * 4));
  if (fit < 1) throw new ShapeError(`uploadQ4 ${label}: one row of ${cw * 4} bytes exceeds the binding limit ${gpu.maxBindingBytes}`);
  const rowBlock = fit >= layout ? layout : 1;
  const per = fit - (fit % rowBlock);
  const slices: Q4Slice[] = [];
  let bytes = 0;
  try {
    for (let r0 = 0; r0 < n; r0 += per) {
      const rows = Math.min(per, n - r0);
      const tag = per < n ? `${label}#${slices.length}` : label;
      const stored = Math.ceil(rows / rowBlock) * rowBlock;
      // Slices start at whole blocks (per is a multiple of rowBlock): same layout, same words.
      const words = rowBlock === packedBlock
        ? packed.codes.subarray(r0 * cw, (r0 + stored) * cw)
        : relayout(packed.codes, packedBlock, cw, r0, rows, rowBlock);
      const codes = gpu.upload(u8(words), [stored, cw], 'u32', `${tag}.codes`);
      let groups: Tensor;
      try {
        groups = gpu.upload(u8(packed.groups.subarray(r0 * gw, (r0 + rows) * gw)), [rows, gw], 'u32', `${tag}.groups`);
      } catch (e) {
        gpu.destroyTensor(codes);
        throw e;
      }
      slices.push({ row0: r0, rows, codes, groups });
      bytes += codes.byteLength + groups.byteLength;
    }
  } catch (e) {
    destroyQ4(gpu, { slices });
    throw e;
  }
  return { kind: 'q4', shape: [n, k], group, rowBlock, slices, byteLength: bytes, label };
}

export function destroyQ4(gpu: Pick<Gpu, 'destroyTensor'>, w: { slices: readonly Q4Slice[] }): void {
  for (const s of w.slices) { gpu.destroyTensor(s.codes); gpu.destroyTensor(s.groups); }
}

function u8(a: Uint32Array): Uint8Array { return new Uint8Array(a.buffer, a.byteOffset, a.byteLength); }

/**
 * How the q4 matrix-vector kernel is laid out (see `matvecPlan` in matmul.ts: the same reasoning). `shareX`
 * (kernels/matmul_vec_q4.wgsl SHARE_X; one lane per row group, groups a multiple of 64): the lanes of a subgroup
 * load x once per 8-word block and pass it on with subgroup shuffles.
 */
export interface Q4MatvecPlan { readonly kind: 'matvec'; readonly workgroup: number; readonly threadsPerRow: number; readonly shareX?: boolean }
/**
 * `subgroupRows`: kernels/matmul_q4_subgroup.wgsl, one subgroup of 8 lanes per workgroup sharing 8 rows of x
 * (workgroup must be 8); else kernels/matmul_q4.wgsl with `workgroup` invocations of one 4×4 tile each.
 */
export interface Q4MatmulPlan { readonly kind: 'matmul'; readonly workgroup: number; readonly subgroupRows?: boolean }
export type Q4Plan = Q4MatvecPlan | Q4MatmulPlan;

/** Weight rows per matvec invocation and the y tile of a matmul invocation (R, TM, TN in the kernels). */
export const Q4_MATVEC_ROWS = 4;
export const Q4_MATMUL_TILE = 4;
/** SHARE_X: code words per block whose x the lanes of a subgroup load once and shuffle. */
const SHARE_X_WORDS = 8;

/**
 * CPU adapters: one invocation per 4 rows, sharing each x load (bench/NOTES.md). GPUs: T lanes per row group, each
 * taking every T-th group of K; T = 32, fewer only when K has fewer groups (no idle lanes on small models). On an
 * H200 (bench/NOTES.md) T 32 beat T 8 over the whole 7B decode step (its matrix-vector products 7.1 against 8.8 ms).
 */
export function q4MatvecPlan(gpu: Gpu, k: number, group: number): Q4MatvecPlan {
  if (gpu.cpuLayout) return { kind: 'matvec', workgroup: 64, threadsPerRow: 1, ...(canShareX(gpu, group) ? { shareX: true } : {}) };
  let t = 1;
  while (t < 32 && t < k / group) t *= 2;
  return { kind: 'matvec', workgroup: 256, threadsPerRow: t };
}

/** Whether SHARE_X can run here: subgroups of at least 8 lanes, groups of whole 8-word blocks. */
export function canShareX(gpu: Pick<Gpu, 'features' | 'adapter'>, group: number): boolean {
  return canShareRowsInSubgroups(gpu) && group % (8 * SHARE_X_WORDS) === 0;
}

/**
 * CPU adapters with subgroups: 8 lanes share 8 rows of x through subgroup shuffles (on lavapipe 2.7-3.4x faster than
 * the 4×4 tiles, whose per-invocation loads of x dominate: bench/NOTES.md). Everything else: 4×4 tiles.
 */
export function q4MatmulPlan(gpu: Gpu): Q4MatmulPlan {
  if (gpu.cpuLayout && canShareRowsInSubgroups(gpu)) return { kind: 'matmul', workgroup: SUBGROUP_LANES, subgroupRows: true };
  return { kind: 'matmul', workgroup: 64 };
}

export interface Q4LinearShape { m: number; n: number; k: number; act: ActDType }

/** Check the operands of `linearQ4` (ShapeError on any mismatch): those of every linear op, and the q4 shape. */
export function checkLinearQ4(gpu: Gpu, x: Tensor, w: Q4Weight, bias: Tensor | null, y: Tensor, yCols?: number): Q4LinearShape {
  const buffers = w.slices.flatMap((s) => [s.codes.part.buffer, s.groups.part.buffer]);
  const shape = checkLinearOperands('linearQ4', gpu, x, w, bias, y, w.slices, buffers, yCols);
  checkQ4Dims(shape.n, shape.k, w.group, 'linearQ4');
  return shape;
}

/**
 * y[M, N] = x[M, K]·W[N, K]ᵀ (+ bias[N]) with a 4-bit W; with `accumulate`, y += …  x/y act (f32 | f16),
 * bias f32 or null. M == 1 runs the matrix-vector kernel (decode), larger M the tiled one. One dispatch per
 * weight slice; records nothing else and allocates nothing.
 */
export function linearQ4(rec: Recorder, gpu: Gpu, x: Tensor, w: Q4Weight, bias: Tensor | null, y: Tensor,
  opts: LinearOptions = {}): void {
  const shape = checkLinearQ4(gpu, x, w, bias, y);
  recordLinearQ4(rec, gpu, x, w, bias, y, shape, opts.accumulate ?? false, shape.m === 1 ? q4MatvecPlan(gpu, shape.k, w.group) : q4MatmulPlan(gpu), opts.norm ?? null);
}

/** ShapeError unless `plan` is a matrix-vector layout the q4 kernel can run here for groups of `group`. */
export function checkQ4MatvecPlan(gpu: Gpu, plan: Q4MatvecPlan, group: number): void {
  if (plan.threadsPerRow < 1 || plan.workgroup % plan.threadsPerRow !== 0 || plan.workgroup > 256) {
    throw new ShapeError(`linearQ4: invalid matrix-vector layout (workgroup ${plan.workgroup}, ${plan.threadsPerRow} per row group)`);
  }
  if (plan.shareX && (plan.threadsPerRow !== 1 || !canShareX(gpu, group))) {
    throw new ShapeError(`linearQ4: shared x needs one lane per row group, subgroups of at least ${SUBGROUP_LANES} lanes and groups of a multiple of ${8 * SHARE_X_WORDS} (got ${group})`);
  }
}

/** The define the code layout of `w` adds to every q4 kernel. */
function q4LayoutDefines(w: Q4Weight): { Q4_ROW_BLOCKS?: boolean } {
  return w.rowBlock === ROW_BLOCK ? { Q4_ROW_BLOCKS: true } : {};
}

/**
 * The pipeline of kernels/matmul_vec_q4.wgsl for `w` in the layout `plan` (checked) with the op's own `defines`
 * (activation type, bias, fusions); the layout's and the code layout's defines are added here.
 */
export function q4MatvecPipeline(gpu: Gpu, w: Q4Weight, plan: Q4MatvecPlan, defines: KernelDefines<'matmul_vec_q4'>): Pipeline {
  return gpu.pipeline('matmul_vec_q4', {
    defines: { ...defines, ...(plan.shareX ? { SHARE_X: true, SUBGROUPS: true } : {}), ...q4LayoutDefines(w) },
    constants: { WG: plan.workgroup, T: plan.threadsPerRow },
  });
}

/** Record a checked q4 linear with an explicit kernel layout (tests and benchmarks compare layouts through this). */
export function recordLinearQ4(rec: Recorder, gpu: Gpu, x: Tensor, w: Q4Weight, bias: Tensor | null, y: Tensor,
  shape: Q4LinearShape, accumulate: boolean, plan: Q4Plan, norm: NormIn | null = null): void {
  const { m, n, k } = shape;
  if (m === 0 || n === 0) return;
  if (plan.kind === 'matvec' && m !== 1) throw new ShapeError(`linearQ4: the matrix-vector kernel takes one row, got ${m}`);
  if (plan.kind === 'matvec') checkQ4MatvecPlan(gpu, plan, w.group);
  if (plan.kind !== 'matvec' && norm) throw new ShapeError('linearQ4: a fused input norm needs the matrix-vector kernel');
  if (plan.kind === 'matmul' && plan.subgroupRows) checkSubgroupRowsPlan('linearQ4', gpu, plan);
  const defines = { ACT_F16: shape.act === 'f16', HAS_BIAS: bias !== null, ...(norm ? { NORM_IN: true } : {}) };
  const acc = accumulate ? 1 : 0;
  if (plan.kind === 'matvec') {
    const pipe = q4MatvecPipeline(gpu, w, plan, defines);
    const rowsPerGroup = (plan.workgroup / plan.threadsPerRow) * Q4_MATVEC_ROWS;
    for (const s of w.slices) {
      const bindings = [x, s.codes, s.groups, y, ...(bias ? [bias] : []), ...(norm ? [norm.weight] : [])];
      rec.dispatch(pipe, [u32(s.rows), u32(k), u32(s.row0), u32(acc), u32(w.group), u32(0), u32(0), f32(norm?.eps ?? 0)], bindings,
        foldWorkgroups(Math.ceil(s.rows / rowsPerGroup)));
    }
  } else if (plan.subgroupRows) {
    const pipe = gpu.pipeline('matmul_q4_subgroup', { defines: { ...defines, ...q4LayoutDefines(w), SUBGROUPS: true } });
    for (const s of w.slices) {
      const bindings = bias ? [x, s.codes, s.groups, y, bias] : [x, s.codes, s.groups, y];
      rec.dispatch(pipe, [u32(m), u32(s.rows), u32(k), u32(s.row0), u32(n), u32(acc), u32(w.group)], bindings,
        foldWorkgroups(subgroupRowsWorkgroups(m, s.rows)));
    }
  } else {
    const pipe = gpu.pipeline('matmul_q4', { defines: { ...defines, ...q4LayoutDefines(w) }, constants: { WG: plan.workgroup } });
    const tilesM = Math.ceil(m / Q4_MATMUL_TILE);
    for (const s of w.slices) {
      const tiles = tilesM * Math.ceil(s.rows / Q4_MATMUL_TILE);
      const bindings = bias ? [x, s.codes, s.groups, y, bias] : [x, s.codes, s.groups, y];
      rec.dispatch(pipe, [u32(m), u32(s.rows), u32(k), u32(s.row0), u32(n), u32(acc), u32(w.group)], bindings,
        foldWorkgroups(Math.ceil(tiles / plan.workgroup)));
    }
  }
}
