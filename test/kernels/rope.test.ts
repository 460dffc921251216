import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CORE, getGpu, relError, uploadValues } from '../helpers/gpu.js';
import { randn } from '../helpers/random.js';
import { readGolden, goldenF32, type GoldenTensor } from '../helpers/read-golden.js';
import { refMropeTable, refRopeTable1d, refRopeTable2d, type RopeTable } from '../reference/ops.js';
import type { ActDType } from '../../src/runtime/dtype.js';
import { ShapeError } from '../../src/runtime/errors.js';
import { applyRope } from '../../src/ops/rope.js';
import { inquiryRopeTable, mropeTable, ropeTable1d, visionRopeTable } from '../../src/ops/rope-tables.js';
import { refApplyRope } from '../../src/reference/rope.js';
import { actCases, put } from './elementwise-helpers.js';

const GOLDEN = join(__dirname, '../fixtures/golden/tiny-a/h_ops.safetensors');

function ints(t: GoldenTensor | undefined): number[] {
  if (t?.dtype !== 'I64') throw new Error('expected an I64 golden tensor');
  return Array.from(t.data, Number);
}

/**
 * Compare a kernel-layout table [rows, headDim] (cos half, sin half) with full duplicated cos/sin [rows, headDim]
 * (emb = [θ, θ]); returns the largest absolute difference over both copies of θ.
 */
function tableDiff(table: Float32Array, cos: ArrayLike<number>, sin: ArrayLike<number>, rows: number, headDim: number): number {
  const half = headDim / 2;
  let worst = 0;
  for (let r = 0; r < rows; r++) {
    for (let d = 0; d < headDim; d++) {
      const j = d % half;
      worst = Math.max(worst, Math.abs(table[r * headDim + j]! - cos[r * headDim + d]!),
        Math.abs(table[r * headDim + half + j]! - sin[r * headDim + d]!));
    }
  }
  return Number.isNaN(worst) ? Infinity : worst;
}

/**
 * Our angles are f32 products of f32 inverse frequencies (as torch computes them), the references use float64:
 * |Δangle| <= |angle|·2^-23 (two roundings), so |Δcos|, |Δsin| <= maxAngle·2^-23 + 2^-24 (final rounding).
 */
function angleTol(maxPos: number): number { return maxPos * 2 ** -23 + 2 ** -24; }

describe('rope tables', () => {
  it('match the golden vision and M-RoPE tables (h_ops, head_dim 16)', () => {
    const g = readGolden(GOLDEN);
    const vpos = ints(g.get('vision_rope_pos'));
    const vt = visionRopeTable(Int32Array.from(vpos), 16, 10000);
    expect(tableDiff(vt, goldenF32(g, 'vision_rope_cos'), goldenF32(g, 'vision_rope_sin'), 5, 16))
      .toBeLessThan(angleTol(Math.max(...vpos)) + 2 ** -24); // + the golden's own rounding to F32
    const mpos = ints(g.get('mrope_pos'));
    const mt = mropeTable(Int32Array.from(mpos), 16, [2, 3, 3], 1e6);
    expect(tableDiff(mt, goldenF32(g, 'mrope_cos'), goldenF32(g, 'mrope_sin'), 5, 16))
      .toBeLessThan(angleTol(Math.max(...mpos)) + 2 ** -24);
  });

  it('match float64 tables at the real model sizes', () => {
    const n = 37;
    const pos2 = Int32Array.from({ length: 2 * n }, (_, i) => (i * 7919) % 300);
    const check = (table: Float32Array, ref: RopeTable, rows: number, hd: number, maxPos: number) =>
      expect(tableDiff(table, ref.cos, ref.sin, rows, hd)).toBeLessThan(angleTol(maxPos));
    // Vision: head_dim 80, theta 1e4; rows and columns differ so a swapped or undivided layout fails.
    check(visionRopeTable(pos2, 80), refRopeTable2d(pos2, 80, 1e4), n, 80, 300);
    // Inquiry tokens: the same position on both axes.
    const ip = Int32Array.from({ length: n }, (_, i) => 40 + i);
    const ip2 = Int32Array.from({ length: 2 * n }, (_, i) => ip[i >> 1]!);
    check(inquiryRopeTable(ip, 80), refRopeTable2d(ip2, 80, 1e4), n, 80, 40 + n);
    // LLM M-RoPE: head_dim 128, [16, 24, 24], theta 1e6, three different position rows.
    const pos3 = Int32Array.from({ length: 3 * n }, (_, i) => 1000 + ((i * 104729) % 5000));
    check(mropeTable(pos3, 128, [16, 24, 24], 1e6), refMropeTable(pos3, 128, 1e6, [16, 24, 24]), n, 128, 6000);
    // Qwen3 text encoder 1-D RoPE: head_dim 128, theta 1e6.
    const p1 = Int32Array.from({ length: n }, (_, i) => i);
    check(ropeTable1d(p1, 128, 1e6), refRopeTable1d(p1, 128, 1e6), n, 128, n);
  });

  it('reject bad arguments', () => {
    expect(() => visionRopeTable(new Int32Array(3), 80)).toThrow(ShapeError);
    expect(() => visionRopeTable(new Int32Array(2), 78)).toThrow(ShapeError);
    expect(() => mropeTable(new Int32Array(3), 128, [16, 24, 23], 1e6)).toThrow(ShapeError);
    expect(() => mropeTable(new Int32Array(4), 128, [16, 24, 24], 1e6)).toThrow(ShapeError);
    expect(() => ropeTable1d([0.5], 128, 1e6)).toThrow(ShapeError);
  });
});

describe('applyRope', async () => {
  const cases = await actCases();
  // f32: each output is two products and a sum of |x|·|cos|, |x|·|sin| terms: <= 3 roundings of max|x|, 1e-6 of
  // max|ref|. f16: inputs rounded for the reference too, the output rounded to f16 (2^-11 relative): 1e-3.
  const TOL: Record<ActDType, number> = { f32: 1e-6, f16: 1e-3 };

  it.each(cases)('rotates q and k heads in place in a fused qkv view ($path.name, $dtype)', async ({ path, dtype }) => {
    const gpu = await getGpu(path);
    for (const [rows, hq, hkv, hd] of [[1, 28, 4, 128], [3, 16, 16, 80], [67, 3, 1, 2], [5, 2, 1, 14]] as const) {
      const stride = (hq + 2 * hkv) * hd;
      const qkv = put(gpu, randn(rows * stride, rows * 31 + hd), [rows, stride], dtype);
      const pos = Int32Array.from({ length: 3 * rows }, (_, i) => (i * 37) % 101);
      const table = hd % 4 === 0 && hq === hkv ? visionRopeTable(pos.subarray(0, 2 * rows), hd)
        : mropeTable(pos, hd, [hd / 2, 0, 0], 1e6);
      const t = uploadValues(gpu, table, [rows, hd], 'f32');
      const rec = gpu.recorder();
      applyRope(rec, gpu, { t: qkv.t, stride, offset: 0 }, rows, hq + hkv, hd, t);
      rec.submit();
      const got = await gpu.read(qkv.t);
      const ref = refApplyRope(qkv.v, stride, 0, rows, hq + hkv, hd, table);
      expect(relError(got, ref), `rows ${rows} heads ${hq}+${hkv} x ${hd}`).toBeLessThan(TOL[dtype]);
      for (let r = 0; r < rows; r++) { // v untouched
        for (let c = (hq + hkv) * hd; c < stride; c++) expect(got[r * stride + c]).toBe(qkv.v[r * stride + c]);
      }
      gpu.destroyTensor(qkv.t);
      gpu.destroyTensor(t);
    }
  });

  it('rotates a column view at an offset (inquiry keys inside a [T, 2D] k|v buffer)', async () => {
    const gpu = await getGpu(CORE);
    const rows = 7, heads = 2, hd = 16, stride = 2 * heads * hd;
    const kv = put(gpu, randn(rows * stride, 9), [rows, stride], 'f32');
    const table = inquiryRopeTable(Int32Array.from({ length: rows }, (_, i) => 20 + i), hd);
    const t = uploadValues(gpu, table, [rows, hd], 'f32');
    const rec = gpu.recorder();
    applyRope(rec, gpu, { t: kv.t, stride, offset: heads * hd }, rows, heads, hd, t);
    rec.submit();
    expect(relError(await gpu.read(kv.t), refApplyRope(kv.v, stride, heads * hd, rows, heads, hd, table))).toBeLessThan(1e-6);
  });

  it('rejects odd head dims, wrong tables and overrunning views', async () => {
    const gpu = await getGpu(CORE);
    const x = uploadValues(gpu, randn(60, 1), [3, 20], 'f32');
    const table = uploadValues(gpu, randn(30, 2), [3, 10], 'f32');
    const rec = gpu.recorder();
    expect(() => applyRope(rec, gpu, { t: x, stride: 20, offset: 0 }, 3, 2, 10, table)).not.toThrow();
    expect(() => applyRope(rec, gpu, { t: x, stride: 20, offset: 0 }, 3, 4, 5, table)).toThrow(ShapeError);
    expect(() => applyRope(rec, gpu, { t: x, stride: 20, offset: 0 }, 2, 2, 10, table)).toThrow(ShapeError);
    expect(() => applyRope(rec, gpu, { t: x, stride: 20, offset: 10 }, 3, 2, 10, table)).toThrow(ShapeError);
    const bf = uploadValues(gpu, randn(30, 2), [3, 10], 'bf16');
    expect(() => applyRope(rec, gpu, { t: x, stride: 20, offset: 0 }, 3, 2, 10, bf)).toThrow(ShapeError);
  });
});
