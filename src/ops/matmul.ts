// Linear layers: y = x·Wᵀ (+ b), optionally accumulated into y (kernels/matmul_vec.wgsl for one row, kernels/matmul.wgsl
// for many). A weight larger than the binding limit arrives split by rows; each part is one dispatch writing its
// own range of output columns.
import type { Gpu } from '../runtime/device.js';
import type { ActDType, WeightDType } from '../runtime/dtype.js';
import { ShapeError } from '../runtime/errors.js';
import type { KernelDefines } from '../runtime/kernels.js';
import { f32, foldWorkgroups, u32, type Binding, type Recorder } from '../runtime/recorder.js';
import type { Tensor } from '../runtime/tensor.js';
import {
  checkLinearQ4, checkQ4MatvecPlan, isQ4, linearQ4, q4MatvecPipeline, q4MatvecPlan, type Q4MatvecPlan, type Q4Weight,
} from './matmul-q4.js';

/** A linear layer's weight: a float matrix [N, K] (f32 | f16 | bf16) or a 4-bit one (src/ops/matmul-q4.ts). */
export type LinearWeight = Tensor | Q4Weight;

export interface LinearOptions {
  /** y += x·Wᵀ (+ b) instead of y = … */
  accumulate?: boolean;
  /**
   * Matrix-vector only (M == 1): x is normalised first, y = rmsnorm(x; weight, eps)·Wᵀ (+ b), inside the same
   * dispatch (decode: the block's pre-norm fused into its first projection).
   */
  norm?: NormIn;
}

/** The RMSNorm a matrix-vector product applies to its input (weight f32 [K]). */
export interface NormIn { weight: Tensor; eps: number }

/** How the matrix-vector kernel is laid out (kernels/matmul_vec.wgsl): see `matvecPlan`. */
export interface MatvecPlan {
  readonly kind: 'matvec';
  /** Invocations per workgroup. */
  readonly workgroup: number;
  /** Invocations sharing one group of rows (1: each invocation owns its rows). */
  readonly threadsPerRow: number;
}

/**
 * `subgroupRows`: kernels/matmul_subgroup.wgsl, one subgroup of 8 lanes per workgroup sharing 8 rows of x
 * (workgroup must be 8; K a multiple of 4); else kernels/matmul.wgsl with `workgroup` invocations of one 4×4 tile each.
 */
export interface MatmulPlan {
  readonly kind: 'matmul';
  readonly workgroup: number;
  readonly subgroupRows?: boolean;
}

export type LinearPlan = MatvecPlan | MatmulPlan;

/** Weight rows per matvec invocation and the y tile of a matmul invocation (constants R, TM, TN in the kernels). */
export const MATVEC_ROWS = 4;
export const MATMUL_TILE = 4;
/** The subgroup matrix kernels (matmul_subgroup.wgsl, matmul_q4_subgroup.wgsl): lanes per workgroup, one x row each. */
export const SUBGROUP_LANES = 8;
/** The subgroup matrix kernels: weight rows per lane (TN). */
export const SUBGROUP_ROWS_PER_LANE = 4;

/** Whether the subgroup matrix kernels can run here: subgroups granted, never fewer than SUBGROUP_LANES lanes. */
export function canShareRowsInSubgroups(gpu: Pick<Gpu, 'features' | 'adapter'>): boolean {
  return gpu.features.subgroups && (gpu.adapter.subgroupMinSize ?? 0) >= SUBGROUP_LANES;
}

/** ShapeError unless the subgroup matrix layout (`plan.subgroupRows`) can run here; `needs`: the kernel's own condition. */
export function checkSubgroupRowsPlan(what: string, gpu: Pick<Gpu, 'features' | 'adapter'>, plan: { workgroup: number },
  needs: { ok: boolean; says: string } = { ok: true, says: '' }): void {
  if (plan.workgroup !== SUBGROUP_LANES || !canShareRowsInSubgroups(gpu) || !needs.ok) {
    throw new ShapeError(`${what}: the subgroup layout needs workgroups of ${SUBGROUP_LANES}, subgroups of at least ${SUBGROUP_LANES} lanes${needs.says}`);
  }
}

/** Workgroups of a subgroup matrix kernel for m rows of x and `rows` weight rows (tiles of LANES × LANES·TN). */
export function subgroupRowsWorkgroups(m: number, rows: number): number {
  return Math.ceil(m / SUBGROUP_LANES) * Math.ceil(rows / (SUBGROUP_LANES * SUBGROUP_ROWS_PER_LANE));
}

const WEIGHT_DTYPES: readonly string[] = ['f32', 'f16', 'bf16'];

/**
 * The matrix-vector layout for this adapter. CPU adapters (lavapipe, SwiftShader) execute lanes as SIMD over a
 * loop in which any load with a non-constant offset is a per-lane scalar load: one invocation per group of 4
 * rows, loading x once for all 4, wins there (bench/NOTES.md). GPUs want neighbouring lanes on neighbouring
 * words: 32 invocations per row group, reduced in workgroup memory (correct, but not measured on a GPU here).
 */
export function matvecPlan(gpu: Gpu): MatvecPlan {
  const cpu = gpu.cpuLayout;
  return cpu ? { kind: 'matvec', workgroup: 64, threadsPerRow: 1 } : { kind: 'matvec', workgroup: 256, threadsPerRow: 32 };
}

/**
 * CPU adapters with subgroups and K a multiple of 4: 8 lanes share 8 rows of x through subgroup shuffles
 * (bench/NOTES.md: on lavapipe the 4×4 tiles spend most of their time on per-invocation loads of x; 2.2-2.7x).
 * Everything else: 4×4 tiles.
 */
export function matmulPlan(gpu: Gpu, k: number): MatmulPlan {
  if (gpu.cpuLayout && canShareRowsInSubgroups(gpu) && k % 4 === 0) return { kind: 'matmul', workgroup: SUBGROUP_LANES, subgroupRows: true };
  return { kind: 'matmul', workgroup: 64 };
}

/** Validated operands of one linear call. */
export interface LinearShape { m: number; n: number; k: number; act: ActDType; weight: WeightDType }

/**
 * The checks every linear op (float `linear`, 4-bit `linearQ4`) makes, ShapeError on any mismatch, `what` naming
 * the op: x [M, K] and y [M, yCols ?? N] f32 or f16 alike (f16 only with shader-f16), the weight [N, K] in row
 * parts that cover its rows in order, bias f32 [N] in one binding, nothing released, y in no input's buffer
 * (`weightBuffers`: the buffers the weight's bindings live in).
 */
export function checkLinearOperands(what: string, gpu: Gpu, x: Tensor, w: { readonly shape: readonly number[] },
  bias: Tensor | null, y: Tensor, parts: readonly { readonly row0: number; readonly rows: number }[],
  weightBuffers: readonly GPUBuffer[], yCols?: number): { m: number; n: number; k: number; act: ActDType } {
  if (x.shape.length !== 2) throw new ShapeError(`${what}: x must be [M, K], got [${x.shape}]`);
  if (w.shape.length !== 2) throw new ShapeError(`${what}: weight must be [N, K], got [${w.shape}]`);
  if (y.shape.length !== 2) throw new ShapeError(`${what}: y must be [M, N], got [${y.shape}]`);
  const [m, k] = x.shape as [number, number];
  const [n, kw] = w.shape as [number, number];
  if (kw !== k) throw new ShapeError(`${what}: x [${x.shape}] and weight [${w.shape}] disagree on K`);
  if (k < 1) throw new ShapeError(`${what}: K must be at least 1, got ${k}`);
  if (y.shape[0] !== m || y.shape[1] !== (yCols ?? n)) throw new ShapeError(`${what}: y must be [${m}, ${yCols ?? n}], got [${y.shape}]`);
  if (x.dtype !== 'f32' && x.dtype !== 'f16') throw new ShapeError(`${what}: activations must be f32 or f16, got ${x.dtype}`);
  if (y.dtype !== x.dtype) throw new ShapeError(`${what}: y is ${y.dtype} but x is ${x.dtype}`);
  if (x.dtype === 'f16' && !gpu.features.f16) throw new ShapeError(`${what}: f16 activations need shader-f16, which this device lacks`);
  if (bias) {
    if (bias.dtype !== 'f32') throw new ShapeError(`${what}: bias must be f32, got ${bias.dtype}`);
    if (bias.numel !== n || bias.shape.length !== 1) throw new ShapeError(`${what}: bias must be [${n}], got [${bias.shape}]`);
    if (bias.isSplit) throw new ShapeError(`${what}: bias must be a single binding`);
  }
  if (x.isReleased || y.isReleased) throw new ShapeError(`${what}: an operand tensor was already released`);
  const yBuf = y.part.buffer;
  if (x.part.buffer === yBuf || (bias && bias.part.buffer === yBuf) || weightBuffers.includes(yBuf)) {
    throw new ShapeError(`${what}: y shares a GPU buffer with an input (the op cannot run in place)`);
  }
  let next = 0;
  for (const p of parts) {
    if (p.row0 !== next) throw new ShapeError(`${what}: weight parts must cover rows in order (part at row ${p.row0}, expected ${next})`);
    next += p.rows;
  }
  if (next !== n) throw new ShapeError(`${what}: weight parts cover ${next} rows, the shape says ${n}`);
  return { m, n, k, act: x.dtype };
}

/**
 * Check shapes and dtypes of `linear` (ShapeError on any mismatch). `yCols`: the width y must have when it is not
 * N (the gated MLP writes I = N/2 columns).
 */
export function checkLinear(gpu: Gpu, x: Tensor, w: Tensor, bias: Tensor | null, y: Tensor, yCols?: number): LinearShape {
  if (!WEIGHT_DTYPES.includes(w.dtype)) throw new ShapeError(`linear: weight must be f32, f16 or bf16, got ${w.dtype}`);
  const shape = checkLinearOperands('linear', gpu, x, w, bias, y, w.parts, w.parts.map((p) => p.buffer), yCols);
  return { ...shape, weight: w.dtype as WeightDType };
}

/**
 * y[M, N] = x[M, K]·w[N, K]ᵀ (+ bias[N]); with `accumulate`, y += …  x/y act (f32 | f16), w f32 | f16 | bf16 (may be
 * split by rows) or a q4 weight (`linearQ4`), bias f32 or null. M == 1 uses the matrix-vector kernel.
 */
export function linear(rec: Recorder, gpu: Gpu, x: Tensor, w: LinearWeight, bias: Tensor | null, y: Tensor,
  opts: LinearOptions = {}): void {
  if (opts.norm) checkNormIn(opts.norm, x, y, 'linear');
  if (isQ4(w)) { linearQ4(rec, gpu, x, w, bias, y, opts); return; }
  const shape = checkLinear(gpu, x, w, bias, y);
  const plan = shape.m === 1 ? matvecPlan(gpu) : matmulPlan(gpu, shape.k);
  recordLinear(rec, gpu, x, w, bias, y, shape, opts.accumulate ?? false, plan, opts.norm ?? null);
}

function checkNormIn(norm: NormIn, x: Tensor, y: Tensor, what: string): void {
  if (x.shape.length !== 2 || x.shape[0] !== 1) throw new ShapeError(`${what}: a fused input norm needs one row, got x [${x.shape}] (use rmsNorm first)`);
  const k = x.shape[1]!;
  const g = norm.weight;
  if (g.dtype !== 'f32' || g.numel !== k || g.isSplit) throw new ShapeError(`${what}: norm weight must be one f32 binding of ${k} values, got ${g.dtype} [${g.shape}]`);
  if (!(norm.eps >= 0) || !Number.isFinite(norm.eps)) throw new ShapeError(`${what}: norm eps must be finite and >= 0, got ${norm.eps}`);
  if (g.part.buffer === y.part.buffer) throw new ShapeError(`${what}: y shares a GPU buffer with the norm weight`);
}

function weightDefines(shape: LinearShape, block: number): KernelDefines<'matmul'> & KernelDefines<'matmul_vec'> {
  return {
    ACT_F16: shape.act === 'f16',
    W16: shape.weight !== 'f32',
    W_F16: shape.weight === 'f16',
    W_BF16: shape.weight === 'bf16',
    UNALIGNED: shape.k % block !== 0,
  };
}

function checkMatvecPlan(plan: MatvecPlan & { shareX?: boolean }): void {
  if (plan.shareX) throw new ShapeError('linear: shared x (SHARE_X) is a layout of the 4-bit kernel only');
  if (plan.threadsPerRow < 1 || plan.workgroup % plan.threadsPerRow !== 0 || plan.workgroup > 256) {
    throw new ShapeError(`linear: invalid matrix-vector layout (workgroup ${plan.workgroup}, ${plan.threadsPerRow} per row group)`);
  }
}

/**
 * Gated MLP of one row in one dispatch per weight segment: y[j] = silu(g_j)·u_j with [g; u] = x·wᵀ, w = the fused
 * [gate; up] weight [2I, K] (float, may be split by rows, or q4 in row slices), y [1, I]; with `norm`, x is
 * RMS-normalised first (fused). Decode only (M == 1); prefill keeps linear + siluMul.
 */
export function linearSiluMul(rec: Recorder, gpu: Gpu, x: Tensor, w: LinearWeight, y: Tensor,
  opts: { norm?: NormIn; plan?: Q4MatvecPlan } = {}): void {
  if (w.shape.length !== 2 || w.shape[0]! % 2 !== 0) throw new ShapeError(`linearSiluMul: weight must be [2I, K], got [${w.shape}]`);
  const inter = w.shape[0]! / 2;
  if (y.shape.length !== 2 || y.shape[0] !== 1 || y.shape[1] !== inter) throw new ShapeError(`linearSiluMul: y must be [1, ${inter}], got [${y.shape}]`);
  if (opts.norm) checkNormIn(opts.norm, x, y, 'linearSiluMul');
  const q4 = isQ4(w);
  const shape = q4 ? checkLinearQ4(gpu, x, w, null, y, inter) : checkLinear(gpu, x, w, null, y, inter);
  if (shape.m !== 1) throw new ShapeError(`linearSiluMul: x must be one row, got ${shape.m}`);
  const plan = opts.plan ?? (q4 ? q4MatvecPlan(gpu, shape.k, w.group) : matvecPlan(gpu));
  if (q4) checkQ4MatvecPlan(gpu, plan, w.group); else checkMatvecPlan(plan);
  const defines = { SILU_PAIRS: true, NORM_IN: !!opts.norm };
  const pipe = q4
    ? q4MatvecPipeline(gpu, w, plan, { ACT_F16: shape.act === 'f16', ...defines })
    : gpu.pipeline('matmul_vec', { defines: { ...weightDefines(shape as LinearShape, 8), ...defines }, constants: { WG: plan.workgroup, T: plan.threadsPerRow } });
  // Row ranges of the weight and what binds each (a float part, or a q4 slice's codes and group words).
  const segments = q4 ? w.slices.map((s) => ({ row0: s.row0, rows: s.rows, bind: [s.codes, s.groups] as Binding[] }))
    : (w as Tensor).parts.map((p) => ({ row0: p.row0, rows: p.rows, bind: [p] as Binding[] }));
  const outsPerGroup = (plan.workgroup / plan.threadsPerRow) * 2;
  const eps = opts.norm?.eps ?? 0;
  // Output segments whose gate rows lie in one segment of the weight and whose up rows lie in one.
  const cuts = new Set<number>([0, inter]);
  for (const p of segments) {
    if (p.row0 > 0 && p.row0 < inter) cuts.add(p.row0);
    if (p.row0 > inter && p.row0 < 2 * inter) cuts.add(p.row0 - inter);
  }
  const bounds = [...cuts].sort((a, b) => a - b);
  const segmentOf = (row: number) => segments.find((p) => row >= p.row0 && row < p.row0 + p.rows)!;
  for (let s = 0; s + 1 < bounds.length; s++) {
    const j0 = bounds[s]!, j1 = bounds[s + 1]!;
    const pg = segmentOf(j0), pu = segmentOf(inter + j0);
    const bindings: Binding[] = [x, ...pg.bind, y, ...pu.bind, ...(opts.norm ? [opts.norm.weight] : [])];
    const head = [u32(j1 - j0), u32(shape.k), u32(j0), u32(0)];
    const rowsAndEps = [u32(j0 - pg.row0), u32(inter + j0 - pu.row0), f32(eps)];
    rec.dispatch(pipe, q4 ? [...head, u32((w as Q4Weight).group), ...rowsAndEps] : [...head, ...rowsAndEps],
      bindings, foldWorkgroups(Math.ceil((j1 - j0) / outsPerGroup)));
  }
}

/** Record a checked linear with an explicit kernel layout (tests and benchmarks compare layouts through this). */
export function recordLinear(rec: Recorder, gpu: Gpu, x: Tensor, w: Tensor, bias: Tensor | null, y: Tensor,
  shape: LinearShape, accumulate: boolean, plan: LinearPlan, norm: NormIn | null = null): void {
  const { m, n, k } = shape;
  if (m === 0 || n === 0) return;
  if (plan.kind === 'matvec' && m !== 1) throw new ShapeError(`linear: the matrix-vector kernel takes one row, got ${m}`);
  if (plan.kind !== 'matvec' && norm) throw new ShapeError('linear: a fused input norm needs the matrix-vector kernel');
  if (plan.kind === 'matvec') checkMatvecPlan(plan);
  if (plan.kind === 'matmul' && plan.subgroupRows) checkSubgroupRowsPlan('linear', gpu, plan, { ok: k % 4 === 0, says: ' and K a multiple of 4' });
  const block = plan.kind === 'matvec' ? 8 : 4;
  const defines: KernelDefines<'matmul'> & KernelDefines<'matmul_vec'> = { ...weightDefines(shape, block), HAS_BIAS: bias !== null, ...(norm ? { NORM_IN: true } : {}) };
  const acc = accumulate ? 1 : 0;
  if (plan.kind === 'matvec') {
    const pipe = gpu.pipeline('matmul_vec', { defines, constants: { WG: plan.workgroup, T: plan.threadsPerRow } });
    const rowsPerGroup = (plan.workgroup / plan.threadsPerRow) * MATVEC_ROWS;
    for (const part of w.parts) {
      if (part.rows === 0) continue;
      const bindings: Binding[] = [x, part, y, ...(bias ? [bias] : []), ...(norm ? [norm.weight] : [])];
      rec.dispatch(pipe, [u32(part.rows), u32(k), u32(part.row0), u32(acc), u32(0), u32(0), f32(norm?.eps ?? 0)], bindings,
        foldWorkgroups(Math.ceil(part.rows / rowsPerGroup)));
    }
  } else if (plan.subgroupRows) {
    const pipe = gpu.pipeline('matmul_subgroup', { defines: { ...defines, SUBGROUPS: true } });
    for (const part of w.parts) {
      if (part.rows === 0) continue;
      const bindings = bias ? [x, part, y, bias] : [x, part, y];
      rec.dispatch(pipe, [u32(m), u32(part.rows), u32(k), u32(part.row0), u32(n), u32(acc)], bindings,
        foldWorkgroups(subgroupRowsWorkgroups(m, part.rows)));
    }
  } else {
    const pipe = gpu.pipeline('matmul', { defines, constants: { WG: plan.workgroup } });
    const tilesM = Math.ceil(m / MATMUL_TILE);
    for (const part of w.parts) {
      if (part.rows === 0) continue;
      const tiles = tilesM * Math.ceil(part.rows / MATMUL_TILE);
      const bindings = bias ? [x, part, y, bias] : [x, part, y];
      rec.dispatch(pipe, [u32(m), u32(part.rows), u32(k), u32(part.row0), u32(n), u32(acc)], bindings,
        foldWorkgroups(Math.ceil(tiles / plan.workgroup)));
    }
  }
}
