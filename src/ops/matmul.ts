// Linear layers: y = x·Wᵀ (+ b), optionally accumulated into y (kernels/matmul_vec.wgsl for one row, kernels/matmul.wgsl
// for many). A weight larger than the binding limit arrives split by rows; each part is one dispatch writing its
// own range of output columns.
import type { Gpu } from '../runtime/device.js';
import type { ActDType, WeightDType } from '../runtime/dtype.js';
import { ShapeError } from '../runtime/errors.js';
import type { KernelDefines } from '../runtime/kernels.js';
import { foldWorkgroups, u32, type Recorder } from '../runtime/recorder.js';
import type { Tensor } from '../runtime/tensor.js';
import { isQ4, linearQ4, type Q4Weight } from './matmul-q4.js';

/** A linear layer's weight: a float matrix [N, K] (f32 | f16 | bf16) or a 4-bit one (src/ops/matmul-q4.ts). */
export type LinearWeight = Tensor | Q4Weight;

export interface LinearOptions {
  /** y += x·Wᵀ (+ b) instead of y = … */
  accumulate?: boolean;
}

/** How the matrix-vector kernel is laid out (kernels/matmul_vec.wgsl): see `matvecPlan`. */
export interface MatvecPlan {
  readonly kind: 'matvec';
  /** Invocations per workgroup. */
  readonly workgroup: number;
  /** Invocations sharing one group of rows (1: each invocation owns its rows). */
  readonly threadsPerRow: number;
}

export interface MatmulPlan {
  readonly kind: 'matmul';
  readonly workgroup: number;
}

export type LinearPlan = MatvecPlan | MatmulPlan;

/** Weight rows per matvec invocation and the y tile of a matmul invocation (constants R, TM, TN in the kernels). */
export const MATVEC_ROWS = 4;
export const MATMUL_TILE = 4;

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

export function matmulPlan(_gpu: Gpu): MatmulPlan {
  return { kind: 'matmul', workgroup: 64 };
}

/** Validated operands of one linear call. */
export interface LinearShape { m: number; n: number; k: number; act: ActDType; weight: WeightDType }

/** Check shapes and dtypes of `linear` (ShapeError on any mismatch). */
export function checkLinear(gpu: Gpu, x: Tensor, w: Tensor, bias: Tensor | null, y: Tensor): LinearShape {
  if (x.shape.length !== 2) throw new ShapeError(`linear: x must be [M, K], got [${x.shape}]`);
  if (w.shape.length !== 2) throw new ShapeError(`linear: weight must be [N, K], got [${w.shape}]`);
  if (y.shape.length !== 2) throw new ShapeError(`linear: y must be [M, N], got [${y.shape}]`);
  const [m, k] = x.shape as [number, number];
  const [n, kw] = w.shape as [number, number];
  if (kw !== k) throw new ShapeError(`linear: x [${x.shape}] and weight [${w.shape}] disagree on K`);
  if (k < 1) throw new ShapeError(`linear: K must be at least 1, got ${k}`);
  if (y.shape[0] !== m || y.shape[1] !== n) throw new ShapeError(`linear: y must be [${m}, ${n}], got [${y.shape}]`);
  if (x.dtype !== 'f32' && x.dtype !== 'f16') throw new ShapeError(`linear: activations must be f32 or f16, got ${x.dtype}`);
  if (y.dtype !== x.dtype) throw new ShapeError(`linear: y is ${y.dtype} but x is ${x.dtype}`);
  if (x.dtype === 'f16' && !gpu.features.f16) throw new ShapeError('linear: f16 activations need shader-f16, which this device lacks');
  if (!WEIGHT_DTYPES.includes(w.dtype)) throw new ShapeError(`linear: weight must be f32, f16 or bf16, got ${w.dtype}`);
  if (bias) {
    if (bias.dtype !== 'f32') throw new ShapeError(`linear: bias must be f32, got ${bias.dtype}`);
    if (bias.numel !== n || bias.shape.length !== 1) throw new ShapeError(`linear: bias must be [${n}], got [${bias.shape}]`);
    if (bias.isSplit) throw new ShapeError('linear: bias must be a single binding');
  }
  if (x.isReleased || y.isReleased) throw new ShapeError('linear: an operand tensor was already released');
  const yBuf = y.part.buffer;
  if (x.part.buffer === yBuf || (bias && bias.part.buffer === yBuf) || w.parts.some((p) => p.buffer === yBuf)) {
    throw new ShapeError('linear: y shares a GPU buffer with an input (the op cannot run in place)');
  }
  let next = 0;
  for (const p of w.parts) {
    if (p.row0 !== next) throw new ShapeError(`linear: weight parts must cover rows in order (part at row ${p.row0}, expected ${next})`);
    next += p.rows;
  }
  if (next !== n) throw new ShapeError(`linear: weight parts cover ${next} rows, the shape says ${n}`);
  return { m, n, k, act: x.dtype, weight: w.dtype as WeightDType };
}

/**
 * y[M, N] = x[M, K]·w[N, K]ᵀ (+ bias[N]); with `accumulate`, y += …  x/y act (f32 | f16), w f32 | f16 | bf16 (may be
 * split by rows) or a q4 weight (`linearQ4`), bias f32 or null. M == 1 uses the matrix-vector kernel.
 */
export function linear(rec: Recorder, gpu: Gpu, x: Tensor, w: LinearWeight, bias: Tensor | null, y: Tensor,
  opts: LinearOptions = {}): void {
  if (isQ4(w)) { linearQ4(rec, gpu, x, w, bias, y, opts); return; }
  const shape = checkLinear(gpu, x, w, bias, y);
  const plan = shape.m === 1 ? matvecPlan(gpu) : matmulPlan(gpu);
  recordLinear(rec, gpu, x, w, bias, y, shape, opts.accumulate ?? false, plan);
}

/** Record a checked linear with an explicit kernel layout (tests and benchmarks compare layouts through this). */
export function recordLinear(rec: Recorder, gpu: Gpu, x: Tensor, w: Tensor, bias: Tensor | null, y: Tensor,
  shape: LinearShape, accumulate: boolean, plan: LinearPlan): void {
  const { m, n, k } = shape;
  if (m === 0 || n === 0) return;
  if (plan.kind === 'matvec' && m !== 1) throw new ShapeError(`linear: the matrix-vector kernel takes one row, got ${m}`);
  if (plan.kind === 'matvec' && (plan.threadsPerRow < 1 || plan.workgroup % plan.threadsPerRow !== 0 || plan.workgroup > 256)) {
    throw new ShapeError(`linear: invalid matrix-vector layout (workgroup ${plan.workgroup}, ${plan.threadsPerRow} per row group)`);
  }
  const w16 = shape.weight !== 'f32';
  const block = plan.kind === 'matvec' ? 8 : 4;
  const defines: KernelDefines<'matmul'> & KernelDefines<'matmul_vec'> = {
    ACT_F16: shape.act === 'f16',
    W16: w16,
    W_F16: shape.weight === 'f16',
    W_BF16: shape.weight === 'bf16',
    HAS_BIAS: bias !== null,
    UNALIGNED: k % block !== 0,
  };
  const acc = accumulate ? 1 : 0;
  if (plan.kind === 'matvec') {
    const pipe = gpu.pipeline('matmul_vec', { defines, constants: { WG: plan.workgroup, T: plan.threadsPerRow } });
    const rowsPerGroup = (plan.workgroup / plan.threadsPerRow) * MATVEC_ROWS;
    for (const part of w.parts) {
      if (part.rows === 0) continue;
      const bindings = bias ? [x, part, y, bias] : [x, part, y];
      rec.dispatch(pipe, [u32(part.rows), u32(k), u32(part.row0), u32(acc)], bindings,
        foldWorkgroups(Math.ceil(part.rows / rowsPerGroup)));
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
