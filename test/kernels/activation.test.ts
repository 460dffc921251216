import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CORE, getGpu, poison, relError, uploadValues } from '../helpers/gpu.js';
import { randn, uniform } from '../helpers/random.js';
import { goldenF32, readGolden } from '../helpers/read-golden.js';
import type { ActDType } from '../../src/runtime/dtype.js';
import { ShapeError } from '../../src/runtime/errors.js';
import { gelu, siluMul } from '../../src/ops/activation.js';
import { refGelu, refSiluMul } from '../../src/reference/activation.js';
import { actCases, HALF_ULP, put } from './elementwise-helpers.js';
import { runAndRead } from '../../src/selftest/elementwise-util.js';

const GOLDEN = join(__dirname, '../fixtures/golden/tiny-a/h_ops.safetensors');
const ULP = 2 ** -24;

describe('gelu (exact erf)', async () => {
  const cases = await actCases();

  // Per element: |got - ref| <= 2·(16 + 3z²)·2^-24·|ref| (+ the output rounding on the f16 path), z = x/√2.
  // Sources: the erf/erfc fits (< 1 ulp of erf; erfc fractional error < 1.2e-7 ≈ 2 ulp), relative error of the
  // sum 1 + erf where it is as small as 0.19 (~8 ulp at z ≈ -0.93), and in the negative tail the f32 rounding of
  // z and z² inside exp(-z²), a relative error of ~2z²·2^-24 that no f32 evaluation avoids. Juffa's erf alone
  // (1 - exp(R)) would be off by up to 1e6 ulp at x = -9 and fail this.
  it.each(cases)('is accurate to a few ulp relative over [-10, 10] ($path.name, $dtype)', async ({ path, dtype }) => {
    const gpu = await getGpu(path);
    const n = 20011;
    const xs = new Float32Array(n);
    const jitter = uniform(n, 5, 0, 1);
    for (let i = 0; i < n; i++) xs[i] = -10 + (20 * (i + jitter[i]!)) / n;
    const x = put(gpu, xs, [n], dtype);
    const y = gpu.tensor([n], dtype, 'y');
    poison(gpu, y);
    const got = await runAndRead(gpu, (rec) => gelu(rec, gpu, x.t, y), y);
    const ref = refGelu(x.v);
    let worst = 0;
    for (let i = 0; i < n; i++) {
      const z2 = x.v[i]! ** 2 / 2;
      // f16 also flushes |y| below its subnormal spacing 2^-24 (half of it in absolute error).
      const bound = (2 * (16 + 3 * z2) * ULP + HALF_ULP[dtype]) * Math.abs(ref[i]!) + (dtype === 'f16' ? 2 ** -25 : 1e-45);
      worst = Math.max(worst, Math.abs(got[i]! - ref[i]!) / bound);
      if (!(worst <= 1)) throw new Error(`gelu(${x.v[i]}) = ${got[i]}, reference ${ref[i]}`);
    }
    expect(worst).toBeLessThanOrEqual(1);
    gpu.destroyTensor(x.t);
    y.release();
  });

  // Golden: torch.nn.GELU() on the grid -8..8 from the float64 oracle, stored as F32. max |golden| = 8, so its own
  // rounding is <= 2^-24·8/8 relative and the kernel adds < 16 ulp of |y| near |x| = 8: 1e-6 of max|golden|.
  it.each(cases)('matches the golden h_ops.gelu_erf ($path.name, $dtype)', async ({ path, dtype }) => {
    const gpu = await getGpu(path);
    const g = readGolden(GOLDEN);
    const xs = goldenF32(g, 'x');
    const want = goldenF32(g, 'gelu_erf');
    const x = put(gpu, xs, [xs.length], dtype);
    // In place, as the patch merger uses it.
    const got = await runAndRead(gpu, (rec) => gelu(rec, gpu, x.t, x.t), x.t);
    // f16: the grid values themselves are rounded to f16 (2^-11 relative, slope of GELU <= 1.13) and so is y.
    const tol = dtype === 'f32' ? 1e-6 : 2e-3;
    expect(relError(got, dtype === 'f32' ? want : refGelu(x.v))).toBeLessThan(tol);
    if (dtype === 'f16') expect(relError(got, want)).toBeLessThan(2e-3);
    gpu.destroyTensor(x.t);
  });
});

describe('siluMul', async () => {
  const cases = await actCases();

  // f32: exp is accurate to a few ulp for |g| <= 10, then one division and one product: 1e-6 of max |ref|.
  // f16: inputs rounded for the reference too, output rounded to f16: 2^-11 relative, 1e-3.
  const TOL: Record<ActDType, number> = { f32: 1e-6, f16: 1e-3 };

  it.each(cases)('computes silu(gate)·up from the fused [M, 2I] projection ($path.name, $dtype)', async ({ path, dtype }) => {
    const gpu = await getGpu(path);
    for (const [m, inter] of [[1, 1], [3, 7], [67, 129], [1, 18944], [2, 3420]] as const) {
      const gu = put(gpu, randn(m * 2 * inter, m + inter, 3), [m, 2 * inter], dtype);
      const out = gpu.tensor([m, inter], dtype, 'out');
      poison(gpu, out);
      const got = await runAndRead(gpu, (rec) => siluMul(rec, gpu, gu.t, out), out);
      expect(relError(got, refSiluMul(gu.v, m, inter)), `[${m}, ${inter}]`).toBeLessThan(TOL[dtype]);
      gpu.destroyTensor(gu.t);
      out.release();
    }
  });

  it('matches the golden h_ops.silu (gate = x, up = 1)', async () => {
    const gpu = await getGpu(CORE);
    const g = readGolden(GOLDEN);
    const xs = goldenF32(g, 'x');
    const gu = new Float32Array(2 * xs.length);
    xs.forEach((v, i) => { gu[2 * i] = v; gu[2 * i + 1] = 1; });
    const t = uploadValues(gpu, gu, [xs.length, 2], 'f32');
    const out = gpu.tensor([xs.length, 1], 'f32');
    poison(gpu, out);
    const got = await runAndRead(gpu, (rec) => siluMul(rec, gpu, t, out), out);
    expect(relError(got, goldenF32(g, 'silu'))).toBeLessThan(1e-6);
    gpu.destroyTensor(t);
  });

  it('rejects mismatched shapes', async () => {
    const gpu = await getGpu(CORE);
    const gu = uploadValues(gpu, uniform(24, 1), [3, 8], 'f32');
    const rec = gpu.recorder();
    expect(() => siluMul(rec, gpu, gu, gpu.tensor([3, 8], 'f32'))).toThrow(ShapeError);
    expect(() => siluMul(rec, gpu, gu, gpu.tensor([2, 4], 'f32'))).toThrow(ShapeError);
    expect(() => gelu(rec, gpu, gu, gpu.tensor([3, 7], 'f32'))).toThrow(ShapeError);
    expect(() => gelu(rec, gpu, gu, gpu.tensor([3, 8], 'bf16'))).toThrow(ShapeError);
  });
});
