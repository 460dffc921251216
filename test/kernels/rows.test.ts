import { describe, expect, it } from 'vitest';
import { CORE, getGpu, poison, uploadValues } from '../helpers/gpu.js';
import { rng, uniform } from '../helpers/random.js';
import type { Gpu } from '../../src/runtime/device.js';
import type { ActDType, WeightDType } from '../../src/runtime/dtype.js';
import { ShapeError } from '../../src/runtime/errors.js';
import { embed, gatherRows, scatterRows } from '../../src/ops/rows.js';
import { refEmbed, refGatherRows, refScatterRows } from '../../src/reference/rows.js';
import { actCases, put, stored } from './elementwise-helpers.js';
import { runAndRead } from '../../src/selftest/elementwise-util.js';

function permutation(n: number, seed: number): number[] {
  const r = rng(seed);
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

/** Row movement copies values: the result must be bit-identical (NaN where the reference says NaN). */
function expectSame(got: Float32Array, ref: Float64Array, what: string): void {
  expect(got.length, what).toBe(ref.length);
  for (let i = 0; i < ref.length; i++) {
    if (Number.isNaN(ref[i]!)) expect(got[i], `${what} [${i}]`).toBeNaN();
    else if (got[i] !== ref[i]) throw new Error(`${what}: element ${i} is ${got[i]}, expected ${ref[i]}`);
  }
}

describe('gatherRows / scatterRows', async () => {
  const cases = await actCases();

  it.each(cases)('permutes units of 4 rows and un-permutes single rows ($path.name, $dtype)', async ({ path, dtype }) => {
    const gpu = await getGpu(path);
    for (const [units, d] of [[1, 1], [3, 7], [67, 80], [5, 129], [2, 3584]] as const) {
      const n = 4 * units;
      const src = put(gpu, uniform(n * d, n + d), [n, d], dtype);
      const perm = permutation(units, d);
      const index = uploadValues(gpu, perm, [units], 'u32');
      const permuted = gpu.tensor([n, d], dtype, 'permuted');
      poison(gpu, permuted);
      const got = await runAndRead(gpu, (rec) => gatherRows(rec, gpu, src.t, index, permuted, 4), permuted);
      const ref = refGatherRows(src.v, perm, 4 * d);
      expectSame(got, ref, `gather ${units}x4 rows of ${d}`);

      // Inverse of the permutation on single rows: out[widx4[i]] = permuted[i] restores src exactly.
      const rowIndex = perm.flatMap((u) => [4 * u, 4 * u + 1, 4 * u + 2, 4 * u + 3]);
      const rowIdx = uploadValues(gpu, rowIndex, [n], 'u32');
      const back = gpu.tensor([n, d], dtype, 'back');
      poison(gpu, back);
      expectSame(await runAndRead(gpu, (rec) => scatterRows(rec, gpu, permuted, rowIdx, back, 1), back), Float64Array.from(src.v), 'unpermute');
      for (const t of [src.t, index, rowIdx]) gpu.destroyTensor(t);
      permuted.release();
      back.release();
    }
  });

  it.each(cases)('scatters image features into chosen rows and keeps the others ($path.name, $dtype)', async ({ path, dtype }) => {
    const gpu = await getGpu(path);
    const rows = 67, d = 129, k = 12;
    const dst = put(gpu, uniform(rows * d, 1), [rows, d], dtype);
    const feats = put(gpu, uniform(k * d, 2, 5, 6), [k, d], dtype);
    const at = permutation(rows, 3).slice(0, k);
    const index = uploadValues(gpu, at, [k], 'u32');
    const got = await runAndRead(gpu, (rec) => scatterRows(rec, gpu, feats.t, index, dst.t, 1), dst.t);
    expectSame(got, refScatterRows(feats.v, at, dst.v, d), 'scatter');
    for (const t of [dst.t, feats.t, index]) gpu.destroyTensor(t);
  });

  it('gathers NaN for an index past the source and scatters nothing for one past the destination', async () => {
    const gpu = await getGpu(CORE);
    const d = 5;
    const src = put(gpu, uniform(3 * d, 4), [3, d], 'f32');
    const index = uploadValues(gpu, [2, 3, 0, 1000], [4], 'u32');
    const out = gpu.tensor([4, d], 'f32');
    poison(gpu, out);
    expectSame(await runAndRead(gpu, (rec) => gatherRows(rec, gpu, src.t, index, out, 1), out), refGatherRows(src.v, [2, 3, 0, 1000], d), 'gather');
    const dst = put(gpu, uniform(2 * d, 5), [2, d], 'f32');
    const sIdx = uploadValues(gpu, [7, 0, 2], [3], 'u32');
    expectSame(await runAndRead(gpu, (rec) => scatterRows(rec, gpu, src.t, sIdx, dst.t, 1), dst.t), refScatterRows(src.v, [7, 0, 2], dst.v, d), 'scatter');
  });

  it('rejects bad shapes', async () => {
    const gpu = await getGpu(CORE);
    const src = uploadValues(gpu, uniform(24, 1), [8, 3], 'f32');
    const idx2 = uploadValues(gpu, [0, 1], [2], 'u32');
    const idxF = uploadValues(gpu, [0, 1], [2], 'f32');
    const rec = gpu.recorder();
    expect(() => gatherRows(rec, gpu, src, idx2, gpu.tensor([8, 3], 'f32'), 4)).not.toThrow();
    expect(() => gatherRows(rec, gpu, src, idxF, gpu.tensor([8, 3], 'f32'), 4)).toThrow(ShapeError);
    expect(() => gatherRows(rec, gpu, src, idx2, gpu.tensor([8, 3], 'f32'), 3)).toThrow(ShapeError);
    expect(() => gatherRows(rec, gpu, src, idx2, gpu.tensor([4, 3], 'f32'), 4)).toThrow(ShapeError);
    expect(() => gatherRows(rec, gpu, src, idx2, gpu.tensor([8, 4], 'f32'), 4)).toThrow(ShapeError);
    expect(() => scatterRows(rec, gpu, src, idx2, src, 4)).toThrow(ShapeError);
    rec.submit();
  });
});

describe('embed', async () => {
  const cases = await actCases();
  const TABLES: WeightDType[] = ['f32', 'f16', 'bf16'];

  async function check(gpu: Gpu, dtype: ActDType, wdt: WeightDType, vocab: number, d: number, minParts: number): Promise<void> {
    const values = uniform(vocab * d, vocab + d, -2, 2);
    const table = uploadValues(gpu, values, [vocab, d], wdt, 'embed');
    expect(table.parts.length).toBeGreaterThanOrEqual(minParts);
    // First and last row of every part, random rows, a repeat and an id past the vocabulary.
    const ids = table.parts.flatMap((p) => [p.row0, p.row0 + p.rows - 1]);
    const r = rng(d);
    for (let i = 0; i < 9; i++) ids.push(Math.floor(r() * vocab));
    ids.push(ids[0]!, vocab, 0xffffffff);
    const idsT = uploadValues(gpu, ids, [ids.length], 'u32');
    const out = gpu.tensor([ids.length, d], dtype, 'out');
    poison(gpu, out);
    const got = await runAndRead(gpu, (rec) => embed(rec, gpu, table, idsT, out), out);
    const ref = refEmbed(stored(values, wdt), vocab, d, ids);
    const what = `${wdt} table [${vocab}, ${d}] in ${table.parts.length} parts -> ${dtype}`;
    if (dtype === 'f32') {
      expectSame(got, ref, what); // widening to f32 is exact
    } else {
      // Narrowing to f16 rounds to one of the two nearest f16 values: within one f16 ulp (2^-10 relative).
      const want = stored(ref, 'f16');
      for (let i = 0; i < ref.length; i++) {
        const ok = Number.isNaN(ref[i]!) ? Number.isNaN(got[i]!) : Math.abs(got[i]! - want[i]!) <= Math.abs(ref[i]!) * 2 ** -10;
        if (!ok) throw new Error(`${what}: element ${i} is ${got[i]}, expected ${want[i]}`);
      }
    }
    gpu.destroyTensor(table);
    gpu.destroyTensor(idsT);
    out.release();
  }

  it.each(cases)('gathers rows of f32/f16/bf16 tables ($path.name, $dtype)', async ({ path, dtype }) => {
    const gpu = await getGpu(path);
    for (const wdt of TABLES) for (const [v, d] of [[1, 1], [320, 7], [67, 3584]] as const) await check(gpu, dtype, wdt, v, d, 1);
  });

  it.each(cases)('gathers from tables split across bindings, one dispatch per part ($path.name, $dtype)', async ({ path, dtype }) => {
    const gpu = await getGpu(path, { maxBindingBytes: 4096 });
    for (const wdt of TABLES) await check(gpu, dtype, wdt, 1000, 13, 7); // 13 f32 or 7 16-bit parts
  });
});
