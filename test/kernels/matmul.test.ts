import { describe, expect, it } from 'vitest';
import { CORE, featurePaths, getGpu, poison, uploadValues, type FeaturePath } from '../helpers/gpu.js';
import { uniform } from '../helpers/random.js';
import { runLinearCase, type LinearCaseShape } from '../../src/selftest/linear-case.js';
import { q4MatmulPlan, q4MatvecPlan } from '../../src/ops/matmul-q4.js';
import { floatLinearWeight } from '../../src/selftest/matmul.js';
import type { Gpu } from '../../src/runtime/device.js';
import type { ActDType, WeightDType } from '../../src/runtime/dtype.js';
import { ShapeError } from '../../src/runtime/errors.js';
import type { Tensor } from '../../src/runtime/tensor.js';
import {
  canShareRowsInSubgroups, checkLinear, linear, matmulPlan, matvecPlan, recordLinear, type LinearPlan,
} from '../../src/ops/matmul.js';

interface Combo { path: FeaturePath; act: ActDType; weight: WeightDType }
type Shape = LinearCaseShape;

const WEIGHTS: readonly WeightDType[] = ['f32', 'f16', 'bf16'];

async function combos(): Promise<Combo[]> {
  const out: Combo[] = [];
  for (const path of await featurePaths()) {
    const acts: ActDType[] = path.optional && (await getGpu(path)).features.f16 ? ['f32', 'f16'] : ['f32'];
    for (const act of acts) for (const weight of WEIGHTS) out.push({ path, act, weight });
  }
  return out;
}

// M = 1 runs the matrix-vector kernel, larger M the tiled one. K = 8 and 136 are multiples of both kernels' blocks
// (8 and 4 elements), K = 12 only of the tiled kernel's, K = 1, 7, 129 of neither (element-wise loops; odd K also
// makes 16-bit weight rows start in the middle of a word). M and N are never multiples of the 4×4 tile or of the
// 4 rows per matvec invocation except where noted.
const SHAPES: readonly Shape[] = [
  { m: 1, n: 1, k: 1, bias: false, accumulate: false },
  { m: 1, n: 5, k: 7, bias: true, accumulate: false },
  { m: 1, n: 130, k: 129, bias: false, accumulate: true },
  { m: 1, n: 130, k: 136, bias: true, accumulate: false },
  { m: 1, n: 67, k: 8, bias: false, accumulate: true },
  { m: 1, n: 5, k: 12, bias: true, accumulate: true },
  { m: 3, n: 5, k: 7, bias: true, accumulate: true },
  { m: 3, n: 130, k: 12, bias: false, accumulate: false },
  { m: 67, n: 130, k: 129, bias: true, accumulate: false },
  { m: 67, n: 5, k: 136, bias: false, accumulate: true },
  { m: 67, n: 1, k: 8, bias: true, accumulate: false },
  { m: 3, n: 1, k: 1, bias: false, accumulate: true },
  { m: 4, n: 8, k: 16, bias: true, accumulate: false }, // exact multiples of every tile
];

/**
 * Run one linear (`plan`: a forced layout, else the one `linear` picks) and compare with the float64 reference
 * element by element (src/selftest/linear-case.ts; tolerance: floatLinearWeight).
 */
async function check(gpu: Gpu, s: Shape, act: ActDType, weight: WeightDType, seed: number, plan?: LinearPlan): Promise<void> {
  let parts = 1;
  const r = await runLinearCase(gpu, s, act, seed, floatLinearWeight(s, weight, seed + 1, (rec, g, x, w, b, y, accumulate) => {
    parts = w.parts.length;
    if (plan) recordLinear(rec, g, x, w, b, y, checkLinear(g, x, w, b, y), accumulate, plan);
    else linear(rec, g, x, w, b, y, { accumulate });
  }));
  if (r.mismatch) {
    throw new Error(`[${s.m}x${s.k}]·[${s.n}x${s.k}]ᵀ${s.bias ? '+b' : ''}${s.accumulate ? ' acc' : ''} ${act}/${weight}` +
      `${plan ? ` ${JSON.stringify(plan)}` : ''}: ${r.mismatch}${parts > 1 ? `, weight in ${parts} parts` : ''}`);
  }
}

describe('linear (kernels/matmul_vec.wgsl, kernels/matmul.wgsl)', async () => {
  const all = await combos();
  const name = (c: Combo) => `${c.path.name}: act ${c.act}, weight ${c.weight}`;

  it.each(all.map((c) => [name(c), c] as const))('matches the float64 reference on odd shapes (%s)', async (_, c) => {
    const gpu = await getGpu(c.path);
    let seed = 1;
    for (const s of SHAPES) await check(gpu, s, c.act, c.weight, (seed += 10));
  });

  it.each(all.map((c) => [name(c), c] as const))('splits weights over several bindings (%s)', async (_, c) => {
    // 4096-byte bindings: 130 rows of 129 bf16 (258 bytes) come in 9 parts of 14 (even: odd rows split words)
    // rows and one of 4; f32 rows of 136 in parts of 7.
    const gpu = await getGpu(c.path, { maxBindingBytes: 4096 });
    let seed = 500;
    for (const s of [
      { m: 1, n: 130, k: 129, bias: true, accumulate: false },
      { m: 1, n: 130, k: 136, bias: false, accumulate: true },
      { m: 7, n: 130, k: 129, bias: false, accumulate: true }, // activations must fit one 4096-byte binding too
      { m: 5, n: 130, k: 136, bias: true, accumulate: false },
    ]) {
      await check(gpu, s, c.act, c.weight, (seed += 10));
    }
  });

  it.each(all.map((c) => [name(c), c] as const))('every matrix-vector layout agrees (%s)', async (_, c) => {
    const gpu = await getGpu(c.path);
    const plans: LinearPlan[] = [
      { kind: 'matvec', workgroup: 64, threadsPerRow: 1 },
      { kind: 'matvec', workgroup: 256, threadsPerRow: 32 },
      { kind: 'matvec', workgroup: 64, threadsPerRow: 8 },
      { kind: 'matmul', workgroup: 64 },
      // The CPU layout with subgroups (kernels/matmul_subgroup.wgsl, K a multiple of 4), where the adapter grants them.
      ...(canShareRowsInSubgroups(gpu) ? [{ kind: 'matmul', workgroup: 8, subgroupRows: true } as LinearPlan] : []),
    ];
    let seed = 900;
    for (const plan of plans) {
      const subgroup = plan.kind === 'matmul' && plan.subgroupRows === true;
      for (const s of [
        { m: 1, n: 130, k: 136, bias: true, accumulate: false }, // 17 blocks: uneven over 8 or 32 lanes
        { m: 1, n: 67, k: 8, bias: false, accumulate: true },
        ...(subgroup ? [] : [{ m: 1, n: 37, k: 129, bias: false, accumulate: false }]),
        ...(plan.kind === 'matmul' ? [
          { m: 17, n: 75, k: 36, bias: false, accumulate: true }, // tiles of 8 rows x 32 columns, both cut
          { m: 8, n: 64, k: 16, bias: true, accumulate: false }, // exact multiples
        ] : []),
      ]) {
        await check(gpu, s, c.act, c.weight, (seed += 10), plan);
      }
    }
  });

  it('picks the subgroup matrix layout only on CPU adapters with subgroups of at least 8 lanes and K % 4 == 0', () => {
    const fake = (cpuLayout: boolean, subgroups: boolean, subgroupMinSize?: number) =>
      ({ cpuLayout, features: { subgroups }, adapter: { subgroupMinSize } }) as unknown as Gpu;
    const shares = (g: Gpu, k = 128) => [matmulPlan(g, k).subgroupRows === true, q4MatmulPlan(g).subgroupRows === true];
    expect(shares(fake(true, true, 8))).toEqual([true, true]);
    expect(shares(fake(true, true, 16))).toEqual([true, true]);
    expect(shares(fake(true, true, 8), 130)).toEqual([false, true]); // K % 4 != 0: the float tiles; q4 K is a multiple of 8 anyway
    expect(shares(fake(true, true, 4))).toEqual([false, false]); // SwiftShader-like 4-lane subgroups
    expect(shares(fake(true, true))).toEqual([false, false]); // sizes not reported
    expect(shares(fake(true, false, 8))).toEqual([false, false]); // subgroups not granted
    expect(shares(fake(false, true, 32))).toEqual([false, false]); // GPUs keep the tiles
    // The q4 matrix-vector product shares x through subgroups on the same adapters, for groups of whole 8-word blocks.
    expect(q4MatvecPlan(fake(true, true, 8), 3584, 128).shareX).toBe(true);
    expect(q4MatvecPlan(fake(true, true, 8), 3584, 64).shareX).toBe(true);
    expect(q4MatvecPlan(fake(true, true, 8), 3584, 32).shareX).toBeUndefined();
    expect(q4MatvecPlan(fake(true, true, 4), 3584, 128).shareX).toBeUndefined();
    expect(q4MatvecPlan(fake(false, true, 32), 3584, 128).shareX).toBeUndefined();
  });

  it('folds matrix-vector grids over 65535 workgroups', async () => {
    const gpu = await getGpu(CORE);
    const plan = matvecPlan(gpu);
    const rowsPerGroup = (plan.workgroup / plan.threadsPerRow) * 4;
    const n = 65536 * rowsPerGroup + 77; // one more workgroup than a single grid dimension holds
    if (n * 4 > gpu.maxBindingBytes) return; // GPU layouts with large row groups cannot reach it under the limit
    const wv = uniform(n, 77);
    const x = uploadValues(gpu, [0.75], [1, 1], 'f32');
    const w = uploadValues(gpu, wv, [n, 1], 'f32');
    const y = gpu.tensor([1, n], 'f32');
    poison(gpu, y);
    const rec = gpu.recorder();
    linear(rec, gpu, x, w, null, y);
    rec.submit();
    const got = await gpu.read(y);
    let bad = -1;
    for (let i = 0; i < n && bad < 0; i++) if (got[i] !== Math.fround(0.75 * wv[i]!)) bad = i;
    expect(bad).toBe(-1);
    y.release();
    gpu.destroyTensor(x);
    gpu.destroyTensor(w);
  });

  it('rejects bad shapes, dtypes and aliasing with ShapeError', async () => {
    const gpu = await getGpu(CORE);
    const x = uploadValues(gpu, uniform(6, 1), [2, 3], 'f32');
    const w = uploadValues(gpu, uniform(12, 2), [4, 3], 'bf16');
    const y = gpu.tensor([2, 4], 'f32');
    const rec = gpu.recorder();
    const run = (xx: Tensor, ww: Tensor, bb: Tensor | null, yy: Tensor) => () => linear(rec, gpu, xx, ww, bb, yy);
    const wrongK = uploadValues(gpu, uniform(8, 3), [4, 2], 'bf16');
    const yWrong = gpu.tensor([2, 5], 'f32');
    const y16 = gpu.tensor([2, 4], 'bf16');
    const biasF16 = uploadValues(gpu, uniform(4, 4), [4], 'f16');
    const biasShort = uploadValues(gpu, uniform(3, 5), [3], 'f32');
    const wU32 = uploadValues(gpu, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [4, 3], 'u32');
    const x1d = uploadValues(gpu, uniform(3, 6), [3], 'f32');
    expect(run(x, wrongK, null, y)).toThrow(ShapeError);
    expect(run(x, w, null, yWrong)).toThrow(ShapeError);
    expect(run(x, w, null, y16)).toThrow(ShapeError);
    expect(run(x, w, biasF16, y)).toThrow(ShapeError);
    expect(run(x, w, biasShort, y)).toThrow(ShapeError);
    expect(run(x, wU32, null, y)).toThrow(ShapeError);
    expect(run(x1d, w, null, y)).toThrow(ShapeError);
    const xy = gpu.tensor([2, 4], 'f32');
    const sq = uploadValues(gpu, uniform(16, 7), [4, 4], 'f32');
    expect(run(xy, sq, null, xy)).toThrow(/shares a GPU buffer/);
    if (!gpu.features.f16) {
      const xh = gpu.tensor([2, 3], 'f16');
      const yh = gpu.tensor([2, 4], 'f16');
      expect(run(xh, w, null, yh)).toThrow(/shader-f16/);
    }
    expect(matmulPlan(gpu, 4).kind).toBe('matmul');
    // Layouts this op or adapter cannot run: shared x is a q4 layout; the subgroup tiles need subgroups (the core
    // path has none) and K a multiple of 4.
    const x1 = uploadValues(gpu, uniform(3, 8), [1, 3], 'f32');
    const y1 = gpu.tensor([1, 4], 'f32');
    const shareX = { kind: 'matvec', workgroup: 64, threadsPerRow: 1, shareX: true } as LinearPlan;
    expect(() => recordLinear(rec, gpu, x1, w, null, y1, checkLinear(gpu, x1, w, null, y1), false, shareX)).toThrow(/4-bit kernel only/);
    const tiles8 = { kind: 'matmul', workgroup: 8, subgroupRows: true } as LinearPlan;
    expect(() => recordLinear(rec, gpu, x, w, null, y, checkLinear(gpu, x, w, null, y), false, tiles8)).toThrow(/subgroup layout needs/);
  });
});
