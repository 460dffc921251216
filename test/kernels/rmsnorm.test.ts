import { describe, expect, it } from 'vitest';
import { CORE, getGpu, poison, relError, uploadValues } from '../helpers/gpu.js';
import { randn, uniform } from '../helpers/random.js';
import type { ActDType } from '../../src/runtime/dtype.js';
import { ShapeError } from '../../src/runtime/errors.js';
import { headRmsNorm, rmsNorm } from '../../src/ops/rmsnorm.js';
import { refHeadRmsNorm, refRmsNorm } from '../../src/reference/rmsnorm.js';
import { actCases, put } from './elementwise-helpers.js';

// Tolerances (max |got - ref| / max |ref|). f32: the sum of squares is accumulated in f32 over chains of at most
// 32 + D/128 additions on CPU adapters (blocks of 32; 60 for D = 3584 — the GPU layout's tree is shorter), i.e.
// a relative error <= 60·2^-24 ≈ 3.6e-6 of the mean square, half of it (1.8e-6) on the rsqrt; inverseSqrt is
// within 2 ulp and the output takes two more roundings: 3e-6 (worst case here about 2.2e-6). f16: inputs are rounded to f16
// for the reference as well; the output is rounded to f16 (2^-11 relative) and, with a residual, the stored sum x+r
// is rounded to f16 before it is normalised (another 2^-11): 2e-3.
const TOL: Record<ActDType, number> = { f32: 3e-6, f16: 2e-3 };
const EPS = 1e-6;

describe('rmsNorm', async () => {
  const cases = await actCases();
  const shapes: [number, number][] = [[1, 1], [3, 7], [67, 80], [3, 129], [2, 3584]];

  it.each(cases)('normalises rows, with and without a residual ($path.name, $dtype)', async ({ path, dtype }) => {
    const gpu = await getGpu(path);
    for (const [m, d] of shapes) {
      for (const withResidual of [false, true]) {
        const seed = m * 1000 + d + (withResidual ? 7 : 0);
        // Rows of very different scales: the norm must not depend on the magnitude.
        const xv = randn(m * d, seed);
        for (let r = 0; r < m; r++) for (let c = 0; c < d; c++) xv[r * d + c]! *= 0.05 + 3 * (r % 4);
        const x = put(gpu, xv, [m, d], dtype);
        const r = withResidual ? put(gpu, randn(m * d, seed + 1, 0.5), [m, d], dtype) : null;
        const w = uploadValues(gpu, uniform(d, seed + 2, 0.5, 1.5), [d], 'f32');
        const wv = uniform(d, seed + 2, 0.5, 1.5);
        const y = gpu.tensor([m, d], dtype, 'y');
        poison(gpu, y);
        const rec = gpu.recorder();
        rmsNorm(rec, gpu, x.t, w, y, EPS, r ? { residual: r.t } : {});
        rec.submit();
        const ref = refRmsNorm(x.v, wv, m, d, EPS, r?.v);
        const what = `[${m}, ${d}] residual=${withResidual}`;
        expect(relError(await gpu.read(y), ref.y), what).toBeLessThan(TOL[dtype]);
        // x holds x + r afterwards (only rounding to dtype), or is untouched.
        expect(relError(await gpu.read(x.t), ref.x), what).toBeLessThan(withResidual ? TOL[dtype] : 1e-30);
        for (const t of [x.t, w, ...(r ? [r.t] : [])]) gpu.destroyTensor(t);
        y.release();
      }
    }
  });

  it('rejects bad shapes, weight dtypes and aliased outputs', async () => {
    const gpu = await getGpu(CORE);
    const x = uploadValues(gpu, uniform(12, 1), [3, 4], 'f32');
    const w = uploadValues(gpu, uniform(4, 2), [4], 'f32');
    const wBf = uploadValues(gpu, uniform(4, 2), [4], 'bf16');
    const y = gpu.tensor([3, 4], 'f32');
    const rec = gpu.recorder();
    expect(() => rmsNorm(rec, gpu, x, w, gpu.tensor([4, 3], 'f32'), EPS)).toThrow(ShapeError);
    expect(() => rmsNorm(rec, gpu, x, uploadValues(gpu, uniform(5, 2), [5], 'f32'), y, EPS)).toThrow(ShapeError);
    expect(() => rmsNorm(rec, gpu, x, wBf, y, EPS)).toThrow(ShapeError);
    expect(() => rmsNorm(rec, gpu, x, w, x, EPS)).toThrow(ShapeError);
    expect(() => rmsNorm(rec, gpu, x, w, y, EPS, { residual: x })).toThrow(ShapeError);
    expect(() => rmsNorm(rec, gpu, x, w, y, -1)).toThrow(ShapeError);
    expect(() => rmsNorm(rec, gpu, x, w, gpu.tensor([3, 4], 'f16'), EPS)).toThrow(ShapeError); // core: no f16
  });
});

describe('headRmsNorm', async () => {
  const cases = await actCases();

  it.each(cases)('normalises q and k heads in place inside a fused qkv buffer ($path.name, $dtype)', async ({ path, dtype }) => {
    const gpu = await getGpu(path);
    for (const [rows, hq, hkv, hd] of [[1, 16, 8, 128], [5, 4, 2, 8], [67, 3, 1, 7]] as const) {
      const stride = (hq + 2 * hkv) * hd;
      const qkv = put(gpu, randn(rows * stride, rows + hd, 2), [rows, stride], dtype);
      const wq = uniform(hd, 11, 0.5, 1.5);
      const wk = uniform(hd, 12, 0.5, 1.5);
      const tq = uploadValues(gpu, wq, [hd], 'f32');
      const tk = uploadValues(gpu, wk, [hd], 'f32');
      const rec = gpu.recorder();
      headRmsNorm(rec, gpu, { t: qkv.t, stride, offset: 0 }, hq, hd, rows, tq, EPS);
      headRmsNorm(rec, gpu, { t: qkv.t, stride, offset: hq * hd }, hkv, hd, rows, tk, EPS);
      rec.submit();
      const afterQ = refHeadRmsNorm(qkv.v, stride, 0, rows, hq, hd, wq, EPS);
      const ref = refHeadRmsNorm(afterQ, stride, hq * hd, rows, hkv, hd, wk, EPS);
      const got = await gpu.read(qkv.t);
      expect(relError(got, ref), `rows ${rows} heads ${hq}+${hkv} x ${hd}`).toBeLessThan(TOL[dtype]);
      // The v columns are not touched at all.
      for (let r = 0; r < rows; r++) {
        for (let c = (hq + hkv) * hd; c < stride; c++) expect(got[r * stride + c]).toBe(qkv.v[r * stride + c]);
      }
      for (const t of [qkv.t, tq, tk]) gpu.destroyTensor(t);
    }
  });

  it('rejects views that overrun the tensor and mismatched weights', async () => {
    const gpu = await getGpu(CORE);
    const t = uploadValues(gpu, uniform(40, 3), [4, 10], 'f32');
    const w = uploadValues(gpu, uniform(4, 4), [4], 'f32');
    const rec = gpu.recorder();
    expect(() => headRmsNorm(rec, gpu, { t, stride: 10, offset: 4 }, 2, 4, 4, w, EPS)).toThrow(ShapeError);
    expect(() => headRmsNorm(rec, gpu, { t, stride: 10, offset: 0 }, 2, 5, 4, w, EPS)).toThrow(ShapeError);
    expect(() => headRmsNorm(rec, gpu, { t, stride: 10, offset: 0 }, 2, 4, 5, w, EPS)).toThrow(ShapeError);
  });
});
