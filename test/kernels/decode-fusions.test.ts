// The decode step's fused kernels against float64 references: the matrix-vector product with the block's input
// RMSNorm inside (kernels/matvec.wgsl NORM_IN), the gated MLP's gate/up product with SiLU·up inside (SILU_PAIRS),
// and RoPE + KV-cache write in one dispatch (kernels/rope_kv.wgsl). Every output starts NaN-poisoned; both
// feature paths, both kernel layouts (CPU and the GPU layout forced on this adapter), weights split over bindings.
import { describe, expect, it } from 'vitest';
import { CORE, getGpu, poison, uploadValues, type FeaturePath } from '../helpers/gpu.js';
import { uniform } from '../helpers/random.js';
import { actCases, HALF_ULP, stored } from './elementwise-helpers.js';
import type { Gpu } from '../../src/runtime/device.js';
import { encode, type ActDType, type WeightDType } from '../../src/runtime/dtype.js';
import { ShapeError } from '../../src/runtime/errors.js';
import { checkLinear, linearSiluMul, recordLinear, type MatvecPlan } from '../../src/ops/matmul.js';
import { ropeWriteKv } from '../../src/ops/rope.js';
import { ContextOverflowError } from '../../src/runtime/errors.js';
import { refFusedMatvec } from '../../src/reference/matmul.js';
import { canShareX, checkLinearQ4, destroyQ4, isQ4, packQ4, recordLinearQ4, uploadQ4, type Q4RowBlock } from '../../src/ops/matmul-q4.js';
import { refDequantQ4, refQ4FoldedAbs } from '../../src/reference/matmul-q4.js';
import { randomQ4 } from '../helpers/q4.js';
import { refRopeWriteKv } from '../../src/reference/rope.js';

const CPU_PLAN: MatvecPlan = { kind: 'matvec', workgroup: 64, threadsPerRow: 1 };
const GPU_PLAN: MatvecPlan = { kind: 'matvec', workgroup: 256, threadsPerRow: 32 };
const MID_PLAN: MatvecPlan = { kind: 'matvec', workgroup: 64, threadsPerRow: 8 };
const SHARE_PLAN = { kind: 'matvec', workgroup: 64, threadsPerRow: 1, shareX: true } as const;

interface MatvecCase {
  n: number; k: number; weight: WeightDType | 'q4'; norm: boolean; bias?: boolean; accumulate?: boolean; silu?: boolean;
  /** q4 group size (default 32). */
  group?: number;
}

/**
 * Tolerance per output. Unfused, the GPU error of a dot product is ≤ (K + 2)·2⁻²⁴·Σ|terms|. The fused norm adds the
 * x·g product rounding (2⁻²⁴ per term), the f32 sum of squares in 4 chains of K/8 (relative ≤ (K/8 + 4)·2⁻²⁴, half
 * of it in rsqrt's result) and inverseSqrt's 2 ulp: all ≤ (1.125·K + 20)·2⁻²⁴ relative to Σ|terms| (the abs
 * reference). SiLU·up: |d silu/dg| ≤ 1.1, so err ≤ 1.1·|up|·e_gate + |silu(gate)|·e_up, plus exp's
 * (3 + 2|g|) ulp and the division. Outputs in f16 add half an ulp. A factor 2 covers rounding of the bounds.
 */
async function checkMatvec(gpu: Gpu, c: MatvecCase, act: ActDType, seed: number, plan: MatvecPlan & { shareX?: boolean },
  rowBlock: Q4RowBlock = 1): Promise<void> {
  const rows = c.silu ? 2 * c.n : c.n;
  const x = stored(uniform(c.k, seed), act);
  const q = c.weight === 'q4' ? randomQ4(rows, c.k, c.group ?? 32, seed + 1) : null;
  // q4: the exactly dequantized matrix for the reference; Σ|terms| uses |scale|·(code + zero) (refQ4FoldedAbs: the
  // magnitudes the kernel's folded group sums carry).
  const w = q ? Float32Array.from(refDequantQ4(q)) : stored(uniform(rows * c.k, seed + 1), c.weight as WeightDType);
  const wAbs = q ? Float32Array.from(refQ4FoldedAbs(q)) : w;
  const g = uniform(c.k, seed + 2, 0.5, 1.5);
  const b = c.bias ? uniform(rows, seed + 3) : null;
  const y0 = c.accumulate ? stored(uniform(c.n, seed + 4), act) : null;
  const eps = 1e-6;
  const xt = uploadValues(gpu, x, [1, c.k], act, 'x');
  const wt = q ? uploadQ4(gpu, packQ4(q), rows, c.k, q.group, 'w', rowBlock) : uploadValues(gpu, w, [rows, c.k], c.weight as WeightDType, 'w');
  const gt = uploadValues(gpu, g, [c.k], 'f32', 'g');
  const bt = b ? uploadValues(gpu, b, [rows], 'f32', 'bias') : null;
  const yt = gpu.tensor([1, c.n], act, 'y');
  if (y0) gpu.write(yt, encode(y0, act)); else poison(gpu, yt);
  const norm = c.norm ? { weight: gt, eps } : undefined;
  const rec = gpu.recorder();
  if (c.silu) linearSiluMul(rec, gpu, xt, wt, yt, { norm, plan });
  else if (isQ4(wt)) recordLinearQ4(rec, gpu, xt, wt, bt, yt, checkLinearQ4(gpu, xt, wt, bt, yt), !!c.accumulate, plan, norm ?? null);
  else recordLinear(rec, gpu, xt, wt, bt, yt, checkLinear(gpu, xt, wt, bt, yt), !!c.accumulate, plan, norm ?? null);
  rec.submit();
  const got = await gpu.read(yt);
  const o = { norm: c.norm ? { g, eps } : undefined, bias: b, y0: y0 ?? undefined };
  const ref = refFusedMatvec(x, w, rows, c.k, { ...o, siluPairs: c.silu });
  // The pre-activation rows and their Σ|terms| (abs inputs) for the tolerance.
  const pre = refFusedMatvec(x, w, rows, c.k, o);
  const abs = absTerms(x, wAbs, g, b, y0, rows, c.k, c.norm, eps);
  // q4 adds one fold per group (scale·(Σ code·x − zero·Σ x)).
  const rel = (1.125 * c.k + (q ? c.k / q.group : 0) + 20) * 2 ** -24;
  const label = `${c.silu ? 'siluMul ' : ''}[1x${c.k}]·[${rows}x${c.k}]ᵀ ${act}/${c.weight}${c.norm ? ' +norm' : ''}${c.bias ? ' +b' : ''}` +
    `${c.accumulate ? ' acc' : ''} layout ${plan.workgroup}/${plan.threadsPerRow}, ${isQ4(wt) ? wt.slices.length : wt.parts.length} weight parts`;
  for (let j = 0; j < c.n; j++) {
    let tol: number;
    if (c.silu) {
      const gate = pre[j]!, up = pre[c.n + j]!;
      const sg = gate / (1 + Math.exp(-gate));
      tol = 1.1 * Math.abs(up) * rel * abs[j]! + Math.abs(sg) * rel * abs[c.n + j]! + (8 + 2 * Math.abs(gate)) * 2 ** -23 * Math.abs(ref[j]!);
    } else tol = rel * abs[j]!;
    tol = 2 * (tol + HALF_ULP[act] * Math.abs(ref[j]!));
    const err = Math.abs(got[j]! - ref[j]!);
    if (!(err <= tol)) throw new Error(`${label}: y[${j}] = ${got[j]}, reference ${ref[j]} (tolerance ${tol})`);
  }
  yt.release();
  if (isQ4(wt)) destroyQ4(gpu, wt); else gpu.destroyTensor(wt);
  for (const t of [xt, gt, bt]) if (t) gpu.destroyTensor(t);
}

/** Σ|terms| of each pre-activation output: |rmsnorm(x)|·|w| (+ |b|) (+ |y0|). */
function absTerms(x: Float32Array, w: Float32Array, g: Float32Array, b: Float32Array | null, y0: Float32Array | null,
  rows: number, k: number, norm: boolean, eps: number): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const r = norm ? 1 / Math.sqrt(ss / k + eps) : 1;
  const out = new Float64Array(rows);
  for (let j = 0; j < rows; j++) {
    let s = 0;
    for (let i = 0; i < k; i++) s += Math.abs(x[i]! * (norm ? g[i]! : 1) * r * w[j * k + i]!);
    out[j] = s + (b ? Math.abs(b[j]!) : 0) + (y0 && j < y0.length ? Math.abs(y0[j]!) : 0);
  }
  return out;
}

// K = 136 (17 blocks: uneven over 8 or 32 lanes), 8 (one block), 129 and 7 (element-wise loop; odd K makes 16-bit
// rows start mid-word). N and I are never multiples of the 4 rows / 2 outputs per invocation except where noted.
const MATVEC_CASES: readonly MatvecCase[] = [
  { n: 130, k: 136, weight: 'bf16', norm: true, bias: true },
  { n: 67, k: 136, weight: 'bf16', norm: true, accumulate: true },
  { n: 37, k: 129, weight: 'bf16', norm: true },
  { n: 5, k: 7, weight: 'bf16', norm: true, bias: true },
  { n: 130, k: 136, weight: 'f16', norm: true, bias: true },
  { n: 130, k: 136, weight: 'f32', norm: true },
  { n: 65, k: 136, weight: 'bf16', norm: true, silu: true },
  { n: 65, k: 136, weight: 'bf16', norm: false, silu: true },
  { n: 3, k: 7, weight: 'bf16', norm: true, silu: true },
  { n: 33, k: 129, weight: 'f16', norm: true, silu: true },
  { n: 34, k: 8, weight: 'f32', norm: true, silu: true },
  { n: 130, k: 128, weight: 'q4', norm: true, bias: true, group: 32 },
  { n: 67, k: 192, weight: 'q4', norm: true, accumulate: true, group: 64 },
  { n: 65, k: 256, weight: 'q4', norm: true, silu: true, group: 128 },
  { n: 3, k: 64, weight: 'q4', norm: false, silu: true, group: 32 },
];

describe('fused decode matrix-vector products (kernels/matvec.wgsl NORM_IN, SILU_PAIRS)', async () => {
  const cases = await actCases();
  const name = (c: { path: FeaturePath; dtype: ActDType }) => `${c.path.name}, act ${c.dtype}`;

  it.each(cases.map((c) => [name(c), c] as const))('match float64 on odd shapes, CPU layout (%s)', async (_, c) => {
    const gpu = await getGpu(c.path);
    let seed = 11;
    for (const mc of MATVEC_CASES) await checkMatvec(gpu, mc, c.dtype, (seed += 10), CPU_PLAN);
  }, 300_000);

  it.each(cases.map((c) => [name(c), c] as const))('match float64 in the lane-sharing (GPU) layouts (%s)', async (_, c) => {
    const gpu = await getGpu(c.path);
    let seed = 311;
    // Each layout is a separate pipeline per variant (slow to compile here): the variants that differ in the
    // reduction (norm slot, pairs), aligned and element-wise loops.
    const sub = [MATVEC_CASES[0]!, MATVEC_CASES[2]!, MATVEC_CASES[6]!, MATVEC_CASES[10]!, MATVEC_CASES[11]!, MATVEC_CASES[13]!];
    for (const mc of sub) await checkMatvec(gpu, mc, c.dtype, (seed += 10), GPU_PLAN);
    for (const mc of sub.slice(0, 3)) await checkMatvec(gpu, mc, c.dtype, (seed += 10), MID_PLAN);
  }, 300_000);

  it.each(cases.map((c) => [name(c), c] as const))('q4 with x shared through subgroups (SHARE_X) matches float64 (%s)', async (_, c) => {
    const gpu = await getGpu(c.path);
    if (!canShareX(gpu, 64)) {
      // No subgroups of 8+ lanes on this path: the layout is refused, never run wrong.
      await expect(checkMatvec(gpu, MATVEC_CASES[12]!, c.dtype, 1, SHARE_PLAN)).rejects.toThrow(/shared x needs/);
      return;
    }
    let seed = 511;
    for (const mc of [
      MATVEC_CASES[12]!, // group 64: one 8-word block per group; norm, accumulate
      MATVEC_CASES[13]!, // group 128, norm, SiLU pairs
      { n: 37, k: 384, weight: 'q4', bias: true, group: 128 }, // no norm, bias
      { n: 9, k: 640, weight: 'q4', norm: true, silu: true, group: 320 }, // 5 blocks per group
    ] as MatvecCase[]) {
      await checkMatvec(gpu, mc, c.dtype, (seed += 10), SHARE_PLAN);
    }
    // Codes in row blocks of 32 (the layout the loader picks here): 2·65 gate and up rows, so the up rows start
    // inside a block; norm + bias without SiLU.
    for (const mc of [MATVEC_CASES[13]!, { n: 37, k: 384, weight: 'q4', norm: true, bias: true, group: 128 }] as MatvecCase[]) {
      await checkMatvec(gpu, mc, c.dtype, (seed += 10), SHARE_PLAN, 32);
    }
    // Split into slices of 64 rows (16384-byte bindings, 256-byte rows): slice 0 ends inside the gate rows, the up
    // rows start at row 1 of slice 1.
    const split = await getGpu(c.path, { maxBindingBytes: 16384 });
    await checkMatvec(split, { n: 65, k: 512, weight: 'q4', norm: true, silu: true, group: 64 }, c.dtype, (seed += 10), SHARE_PLAN, 32);
  }, 300_000);

  it.each(cases.map((c) => [name(c), c] as const))('split weights: parts cut gate and up anywhere (%s)', async (_, c) => {
    // 2048-byte bindings: 136 bf16 (272 bytes) a row → parts of 7 rows; for SiLU pairs (2·65 rows) the parts cut
    // the gate and the up half at different offsets, and one part holds the end of gate and the start of up.
    const gpu = await getGpu(c.path, { maxBindingBytes: 2048 });
    let seed = 700;
    for (const mc of [
      { n: 65, k: 136, weight: 'bf16', norm: true, silu: true },
      { n: 30, k: 129, weight: 'f16', norm: false, silu: true },
      { n: 130, k: 136, weight: 'bf16', norm: true, bias: true, accumulate: true },
      // q4 rows of 64 + 8 bytes: slices of 28 rows (q4 slices are cut by the code words' size)
      { n: 65, k: 512, weight: 'q4', norm: true, silu: true, group: 64 },
    ] as MatvecCase[]) {
      await checkMatvec(gpu, mc, c.dtype, (seed += 10), CPU_PLAN);
      await checkMatvec(gpu, mc, c.dtype, (seed += 10), GPU_PLAN);
    }
  }, 300_000);

  it('rejects a bad norm weight, a silu output of the wrong width and a norm on many rows', async () => {
    const gpu = await getGpu(CORE);
    const x = uploadValues(gpu, uniform(16, 1), [1, 16], 'f32');
    const x2 = uploadValues(gpu, uniform(32, 1), [2, 16], 'f32');
    const w = uploadValues(gpu, uniform(8 * 16, 2), [8, 16], 'bf16');
    const g = uploadValues(gpu, uniform(15, 3), [15], 'f32');
    const g16 = uploadValues(gpu, uniform(16, 3), [16], 'f16');
    const gOk = uploadValues(gpu, uniform(16, 3), [16], 'f32');
    const y = gpu.tensor([1, 8], 'f32');
    const y2 = gpu.tensor([2, 8], 'f32');
    const a = gpu.tensor([1, 4], 'f32');
    const a5 = gpu.tensor([1, 5], 'f32');
    const rec = gpu.recorder();
    const { linear } = await import('../../src/ops/matmul.js');
    expect(() => linear(rec, gpu, x, w, null, y, { norm: { weight: g, eps: 1e-6 } })).toThrow(ShapeError);
    expect(() => linear(rec, gpu, x, w, null, y, { norm: { weight: g16, eps: 1e-6 } })).toThrow(ShapeError);
    expect(() => linear(rec, gpu, x, w, null, y, { norm: { weight: gOk, eps: Number.NaN } })).toThrow(ShapeError);
    expect(() => linear(rec, gpu, x2, w, null, y2, { norm: { weight: gOk, eps: 1e-6 } })).toThrow(/one row/);
    expect(() => linearSiluMul(rec, gpu, x, w, a5)).toThrow(ShapeError);
    expect(() => linearSiluMul(rec, gpu, x2, w, a)).toThrow(ShapeError);
    rec.release();
    for (const t of [y, y2, a, a5]) t.release();
    for (const t of [x, x2, w, g, g16, gOk]) gpu.destroyTensor(t);
  });
});

describe('RoPE + KV write in one dispatch (kernels/rope_kv.wgsl)', async () => {
  const cases = await actCases();

  /** Rows of the caches outside at..at+rows must stay NaN; q is rotated in place, k and v of qkv untouched. */
  async function checkRopeKv(gpu: Gpu, act: ActDType, rows: number, heads: number, kvHeads: number, hd: number, at: number, seed: number) {
    const width = (heads + 2 * kvHeads) * hd;
    const kvw = kvHeads * hd;
    const cap = at + rows + 2;
    const qkvV = stored(uniform(rows * width, seed), act);
    const angles = uniform(rows * hd / 2, seed + 1, -30, 30);
    const table = new Float32Array(rows * hd);
    for (let r = 0; r < rows; r++) {
      for (let d = 0; d < hd / 2; d++) {
        table[r * hd + d] = Math.cos(angles[r * hd / 2 + d]!);
        table[r * hd + hd / 2 + d] = Math.sin(angles[r * hd / 2 + d]!);
      }
    }
    const qkv = uploadValues(gpu, qkvV, [rows, width], act, 'qkv');
    const tt = uploadValues(gpu, table, [rows, hd], 'f32', 'table');
    const kc = gpu.tensor([cap, kvw], act, 'kc');
    const vc = gpu.tensor([cap, kvw], act, 'vc');
    poison(gpu, kc);
    poison(gpu, vc);
    const rec = gpu.recorder();
    ropeWriteKv(rec, gpu, { qkv, rows, heads, kvHeads, headDim: hd, table: tt, kCache: kc, vCache: vc, at });
    rec.submit();
    const ref = refRopeWriteKv(qkvV, rows, heads, kvHeads, hd, table);
    const [gq, gk, gv] = [await gpu.read(qkv), await gpu.read(kc), await gpu.read(vc)];
    // Each rotated value is x0·c − x1·s in f32: two products and a difference, ≤ 3·2⁻²⁴·(|x0| + |x1|) ≤ 2⁻²² here
    // (|x| ≤ 1); f16 storage adds half an ulp of the result. v is a copy (exact).
    const tol = (v: number) => 2 ** -22 + HALF_ULP[act] * Math.abs(v);
    const label = `${act} rows ${rows} heads ${heads}/${kvHeads} hd ${hd} at ${at}`;
    for (let i = 0; i < ref.qkv.length; i++) {
      if (!(Math.abs(gq[i]! - ref.qkv[i]!) <= tol(ref.qkv[i]!))) throw new Error(`${label}: qkv[${i}] = ${gq[i]}, reference ${ref.qkv[i]}`);
    }
    for (let r = 0; r < cap; r++) {
      for (let c = 0; c < kvw; c++) {
        const i = r * kvw + c;
        if (r < at || r >= at + rows) {
          if (!Number.isNaN(gk[i]!) || !Number.isNaN(gv[i]!)) throw new Error(`${label}: cache row ${r} outside the write was changed`);
          continue;
        }
        const j = (r - at) * kvw + c;
        if (!(Math.abs(gk[i]! - ref.k[j]!) <= tol(ref.k[j]!))) throw new Error(`${label}: k cache [${r}, ${c}] = ${gk[i]}, reference ${ref.k[j]}`);
        if (gv[i] !== ref.v[j]) throw new Error(`${label}: v cache [${r}, ${c}] = ${gv[i]}, reference ${ref.v[j]}`);
      }
    }
    kc.release();
    vc.release();
    gpu.destroyTensor(qkv);
    gpu.destroyTensor(tt);
  }

  it.each(cases.map((c) => [`${c.path.name}, ${c.dtype}`, c] as const))('matches float64 in both layouts (%s)', async (_, c) => {
    for (const layout of ['cpu', 'gpu'] as const) {
      const gpu = await getGpu(c.path, { kernelLayout: layout });
      await checkRopeKv(gpu, c.dtype, 1, 4, 2, 16, 5, 31);        // decode: one row at cache row 5
      await checkRopeKv(gpu, c.dtype, 5, 7, 1, 8, 0, 41);         // prefill chunk, GQA 7, headDim 8 (one vec4 per half)
      await checkRopeKv(gpu, c.dtype, 3, 28, 4, 128, 9, 51);      // the 7B's head layout
      await checkRopeKv(gpu, c.dtype, 2, 4, 2, 12, 3, 61);        // headDim 12: halves of 6, element-wise
    }
  });

  it('rejects overflow, bad head sizes and aliasing', async () => {
    const gpu = await getGpu(CORE);
    const qkv = gpu.tensor([2, 64], 'f32');
    const t = uploadValues(gpu, uniform(32, 1), [2, 16], 'f32');
    const kc = gpu.tensor([4, 16], 'f32');
    const vc = gpu.tensor([4, 16], 'f32');
    const rec = gpu.recorder();
    const args = { qkv, rows: 2, heads: 2, kvHeads: 1, headDim: 16, table: t, kCache: kc, vCache: vc, at: 0 };
    expect(() => ropeWriteKv(rec, gpu, { ...args, at: 3 })).toThrow(ContextOverflowError);
    expect(() => ropeWriteKv(rec, gpu, { ...args, headDim: 15 })).toThrow(ShapeError);
    expect(() => ropeWriteKv(rec, gpu, { ...args, vCache: kc })).toThrow(/shares a GPU buffer/);
    rec.release();
    for (const x of [qkv, kc, vc]) x.release();
    gpu.destroyTensor(t);
  });
});
