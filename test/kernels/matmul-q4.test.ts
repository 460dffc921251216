import { describe, expect, it } from 'vitest';
import { CORE, featurePaths, getGpu, uploadValues, type FeaturePath } from '../helpers/gpu.js';
import { uniform } from '../helpers/random.js';
import { randomQ4 } from '../helpers/q4.js';
import { canShareRowsInSubgroups } from '../../src/ops/matmul.js';
import { runLinearCase, type LinearCaseShape } from '../../src/selftest/linear-case.js';
import { q4LinearWeight } from '../../src/selftest/matmul-q4.js';
import type { Gpu } from '../../src/runtime/device.js';
import type { ActDType } from '../../src/runtime/dtype.js';
import { ShapeError } from '../../src/runtime/errors.js';
import {
  canShareX, checkLinearQ4, destroyQ4, linearQ4, packQ4, q4RowBlock, recordLinearQ4, uploadQ4, type Q4Parts, type Q4Plan,
  type Q4RowBlock,
} from '../../src/ops/matmul-q4.js';

type Shape = LinearCaseShape & { group: number };

/**
 * Run one q4 linear (`plan`: a forced layout, else the one `linearQ4` picks; `rowBlock`: a forced code layout, else
 * the loader's) and compare with the float64 reference on the exactly dequantized weights
 * (src/selftest/linear-case.ts; tolerance: q4LinearWeight). Returns the code layout the weight was uploaded in.
 */
async function check(gpu: Gpu, s: Shape, act: ActDType, seed: number, plan?: Q4Plan, rowBlock?: Q4RowBlock): Promise<Q4RowBlock> {
  let slices = 1;
  let layout: Q4RowBlock = 1;
  const r = await runLinearCase(gpu, s, act, seed, q4LinearWeight(s, s.group, seed + 1, (rec, g, x, w, b, y, accumulate) => {
    slices = w.slices.length;
    layout = w.rowBlock;
    if (plan) recordLinearQ4(rec, g, x, w, b, y, checkLinearQ4(g, x, w, b, y), accumulate, plan);
    else linearQ4(rec, g, x, w, b, y, { accumulate });
  }, rowBlock));
  if (r.mismatch) {
    throw new Error(`[${s.m}x${s.k}]·[${s.n}x${s.k}]ᵀ g${s.group}${s.bias ? '+b' : ''}${s.accumulate ? ' acc' : ''} ${act}` +
      `${plan ? ` ${JSON.stringify(plan)}` : ''} codes in row blocks of ${layout}: ${r.mismatch}${slices > 1 ? `, ${slices} slices` : ''}`);
  }
  return layout;
}

async function combos(): Promise<{ path: FeaturePath; act: ActDType }[]> {
  const out: { path: FeaturePath; act: ActDType }[] = [];
  for (const path of await featurePaths()) {
    const acts: ActDType[] = path.optional && (await getGpu(path)).features.f16 ? ['f32', 'f16'] : ['f32'];
    for (const act of acts) out.push({ path, act });
  }
  return out;
}

// Every supported group size (multiples of 8: 8, 32, 64, 128 and an odd multiple, 40), K a multiple of the group
// with an odd number of groups where possible, M and N never multiples of the 4-row tiles except where noted.
const SHAPES: readonly Shape[] = [
  { m: 1, n: 1, k: 8, group: 8, bias: false, accumulate: false },
  { m: 1, n: 5, k: 24, group: 8, bias: true, accumulate: true },
  { m: 1, n: 130, k: 96, group: 32, bias: true, accumulate: false },
  { m: 1, n: 67, k: 192, group: 64, bias: false, accumulate: true },
  { m: 1, n: 37, k: 384, group: 128, bias: true, accumulate: false },
  { m: 1, n: 9, k: 120, group: 40, bias: false, accumulate: false },
  { m: 3, n: 5, k: 24, group: 8, bias: true, accumulate: true },
  { m: 67, n: 130, k: 96, group: 32, bias: true, accumulate: false },
  { m: 5, n: 37, k: 192, group: 64, bias: false, accumulate: true },
  { m: 6, n: 9, k: 384, group: 128, bias: true, accumulate: false },
  { m: 2, n: 3, k: 120, group: 40, bias: false, accumulate: true },
  { m: 4, n: 8, k: 128, group: 64, bias: true, accumulate: false }, // exact multiples of every tile
];

describe('linearQ4 (kernels/matmul_vec_q4.wgsl, kernels/matmul_q4.wgsl)', async () => {
  const all = await combos();
  const name = (c: { path: FeaturePath; act: ActDType }) => `${c.path.name}: act ${c.act}`;

  it.each(all.map((c) => [name(c), c] as const))('matches the float64 reference on odd shapes and every group size (%s)', async (_, c) => {
    const gpu = await getGpu(c.path);
    let seed = 1;
    for (const s of SHAPES) await check(gpu, s, c.act, (seed += 10));
  });

  it.each(all.map((c) => [name(c), c] as const))('splits weights over several bindings (%s)', async (_, c) => {
    // 4096-byte bindings: rows of 384 codes (192 bytes) come in slices of 21 rows: 130 rows = 6 full slices + 4.
    const gpu = await getGpu(c.path, { maxBindingBytes: 4096 });
    let seed = 500;
    for (const s of [
      { m: 1, n: 130, k: 384, group: 128, bias: true, accumulate: false },
      { m: 1, n: 130, k: 384, group: 32, bias: false, accumulate: true },
      { m: 2, n: 130, k: 384, group: 64, bias: true, accumulate: true },
    ]) {
      await check(gpu, s, c.act, (seed += 10));
    }
  });

  it.each(all.map((c) => [name(c), c] as const))('every layout agrees (%s)', async (_, c) => {
    const gpu = await getGpu(c.path);
    const plans: Q4Plan[] = [
      { kind: 'matvec', workgroup: 64, threadsPerRow: 1 },
      { kind: 'matvec', workgroup: 64, threadsPerRow: 32 }, // more lanes than K has groups: idle lanes
      { kind: 'matvec', workgroup: 256, threadsPerRow: 32 }, // the GPU layout
      { kind: 'matmul', workgroup: 64 },
      // The CPU layout with subgroups (kernels/matmul_q4_subgroup.wgsl), where the adapter grants them.
      ...(canShareRowsInSubgroups(gpu) ? [{ kind: 'matmul', workgroup: 8, subgroupRows: true } as Q4Plan] : []),
      // The CPU matrix-vector layout with x shared through subgroups (SHARE_X; groups of 64+ only).
      ...(canShareX(gpu, 64) ? [{ kind: 'matvec', workgroup: 64, threadsPerRow: 1, shareX: true } as Q4Plan] : []),
    ];
    let seed = 900;
    for (const plan of plans) {
      const shareX = plan.kind === 'matvec' && plan.shareX === true;
      for (const s of [
        { m: 1, n: 130, k: 192, group: 64, bias: true, accumulate: false },
        ...(shareX ? [{ m: 1, n: 37, k: 384, group: 128, bias: false, accumulate: true }]
          : [{ m: 1, n: 37, k: 120, group: 40, bias: false, accumulate: true }]),
        ...(plan.kind === 'matmul' ? [
          { m: 17, n: 75, k: 96, group: 32, bias: false, accumulate: true }, // tiles of 8 rows x 32 columns, both cut
          { m: 8, n: 64, k: 128, group: 128, bias: true, accumulate: false }, // exact multiples
        ] : []),
      ]) {
        await check(gpu, s, c.act, (seed += 10), plan);
      }
    }
  });

  it.each(all.map((c) => [name(c), c] as const))('every layout reads codes in row blocks of 32 (%s)', async (_, c) => {
    // The code layout uploadQ4 writes for CPU adapters (q4RowBlock): N not a multiple of 32 (the last block padded),
    // SiLU-free shapes of every kernel, and slices of whole blocks.
    const gpu = await getGpu(c.path);
    const plans: Q4Plan[] = [
      { kind: 'matvec', workgroup: 64, threadsPerRow: 1 },
      { kind: 'matvec', workgroup: 256, threadsPerRow: 32 },
      { kind: 'matmul', workgroup: 64 },
      ...(canShareRowsInSubgroups(gpu) ? [{ kind: 'matmul', workgroup: 8, subgroupRows: true } as Q4Plan] : []),
      ...(canShareX(gpu, 64) ? [{ kind: 'matvec', workgroup: 64, threadsPerRow: 1, shareX: true } as Q4Plan] : []),
    ];
    let seed = 1300;
    for (const plan of plans) {
      const shapes: Shape[] = plan.kind === 'matvec'
        ? [{ m: 1, n: 130, k: 192, group: 64, bias: true, accumulate: false }, { m: 1, n: 37, k: 384, group: 128, bias: false, accumulate: true }]
        : [{ m: 17, n: 75, k: 96, group: 32, bias: false, accumulate: true }, { m: 8, n: 64, k: 128, group: 64, bias: true, accumulate: false }];
      for (const s of shapes) expect(await check(gpu, s, c.act, (seed += 10), plan, 32)).toBe(32);
    }
    // 8192-byte bindings, rows of 384 codes (192 bytes): 42 rows fit, slices of 32 (one block) — 130 rows are 4
    // slices and 2 rows.
    const split = await getGpu(c.path, { maxBindingBytes: 8192 });
    for (const plan of plans) {
      const s: Shape = { m: plan.kind === 'matvec' ? 1 : 3, n: 130, k: 384, group: 64, bias: true, accumulate: true };
      expect(await check(split, s, c.act, (seed += 10), plan, 32)).toBe(32);
    }
    // Where not even one block fits a binding (4096 bytes: 21 rows), the codes stay row-major.
    const narrow = await getGpu(c.path, { maxBindingBytes: 4096 });
    expect(await check(narrow, { m: 1, n: 40, k: 384, group: 64, bias: false, accumulate: false }, c.act, (seed += 10), undefined, 32)).toBe(1);
  });

  it('uploads codes in row blocks where the CPU layouts with subgroups run', async () => {
    for (const path of await featurePaths()) {
      const gpu = await getGpu(path);
      expect(q4RowBlock(gpu, 128)).toBe(gpu.cpuLayout && canShareX(gpu, 128) ? 32 : 1);
      expect(q4RowBlock(gpu, 32)).toBe(1); // no shared x for groups of 32: row-major
    }
  });

  it('packs codes and group words as the kernels read them', () => {
    const q: Q4Parts = {
      n: 1, k: 16, group: 8,
      codes: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 15, 14, 13, 12, 11, 10, 9, 0]),
      zeros: Uint8Array.from([3, 12]),
      scales: Uint16Array.from([0x3c00, 0xb800]),
    };
    const p = packQ4(q);
    expect(Array.from(p.codes)).toEqual([0x87654321, 0x09abcdef]);
    expect(Array.from(p.groups)).toEqual([0x00033c00, 0x000cb800]);
    // Row blocks of 32: word j of row r at (r − r%32)·cw + 32j + r%32, 33 rows padded to 64 with zero words.
    const q33 = randomQ4(33, 24, 8, 4);
    const rows = packQ4(q33).codes;
    const blocked = packQ4(q33, 32);
    expect(blocked.rowBlock).toBe(32);
    expect(blocked.codes.length).toBe(64 * 3);
    for (let r = 0; r < 64; r++) {
      for (let j = 0; j < 3; j++) expect(blocked.codes[(r - (r % 32)) * 3 + 32 * j + (r % 32)]).toBe(r < 33 ? rows[r * 3 + j] : 0);
    }
    expect(Array.from(blocked.groups)).toEqual(Array.from(packQ4(q33).groups));
  });

  it('rejects bad shapes, group sizes and aliasing with ShapeError', async () => {
    const gpu = await getGpu(CORE);
    const q = randomQ4(4, 64, 32, 3);
    const w = uploadQ4(gpu, packQ4(q), 4, 64, 32, 'w');
    const x = uploadValues(gpu, uniform(2 * 64, 1), [2, 64], 'f32');
    const y = gpu.tensor([2, 4], 'f32');
    const rec = gpu.recorder();
    const xWrongK = uploadValues(gpu, uniform(2 * 32, 2), [2, 32], 'f32');
    const yWrong = gpu.tensor([2, 5], 'f32');
    const biasShort = uploadValues(gpu, uniform(3, 5), [3], 'f32');
    expect(() => linearQ4(rec, gpu, xWrongK, w, null, y)).toThrow(ShapeError);
    expect(() => linearQ4(rec, gpu, x, w, null, yWrong)).toThrow(ShapeError);
    expect(() => linearQ4(rec, gpu, x, w, biasShort, y)).toThrow(ShapeError);
    const xy = gpu.tensor([2, 64], 'f32');
    expect(() => linearQ4(rec, gpu, xy, { ...w, shape: [64, 64] }, null, xy)).toThrow(ShapeError);
    // Shared x needs groups of whole 8-word blocks (and subgroups, which the core path lacks).
    const x1 = uploadValues(gpu, uniform(64, 6), [1, 64], 'f32');
    const y1 = gpu.tensor([1, 4], 'f32');
    expect(() => recordLinearQ4(rec, gpu, x1, w, null, y1, checkLinearQ4(gpu, x1, w, null, y1), false,
      { kind: 'matvec', workgroup: 64, threadsPerRow: 1, shareX: true })).toThrow(/shared x needs/);
    // Codes that do not fill whole blocks where the packing says blocks.
    expect(() => uploadQ4(gpu, { ...packQ4(q), rowBlock: 32 }, 4, 64, 32, 'w')).toThrow(/in row blocks of 32/);
    expect(() => packQ4({ ...q, group: 48 })).toThrow(/does not divide/);
    expect(() => packQ4({ ...q, group: 12 })).toThrow(/multiple of 8/);
    destroyQ4(gpu, w);
  });
});
