// Self-test of the activation ops (kernels/activation.wgsl) against the float64 reference, f32 activations.
import type { Gpu } from '../runtime/device.js';
import { gelu, siluMul } from '../ops/activation.js';
import { refGelu, refSiluMul } from '../reference/activation.js';
import { poisoned, result, runAndRead, upload } from './elementwise-util.js';
import { uniformArray } from '../util/random.js';
import type { SelfTestCase } from './types.js';

async function geluCase(gpu: Gpu) {
  const n = 4001;
  const xv = Float32Array.from({ length: n }, (_, i) => -9 + (18 * i) / (n - 1));
  const x = upload(gpu, xv, [n], 'f32');
  const y = poisoned(gpu, [n]);
  try {
    const got = await runAndRead(gpu, (rec) => gelu(rec, gpu, x, y), y);
    const ref = refGelu(xv);
    // Relative to each value, not to the maximum: the erf/erfc fits keep 2·(16 + 3z²) ulp even in the tail
    // (z = x/√2; the z² term is the f32 rounding of z² inside exp(-z²)).
    let worst = 0;
    let ok = true;
    for (let i = 0; i < n; i++) {
      if (ref[i] === 0) continue;
      const e = Math.abs(got[i]! - ref[i]!) / Math.abs(ref[i]!);
      worst = Number.isNaN(e) ? Infinity : Math.max(worst, e);
      ok &&= e <= 2 * (16 + (3 * xv[i]! * xv[i]!) / 2) * 2 ** -24;
    }
    return { ok, maxRelErr: worst, detail: 'exact-erf GELU on [-9, 9], per-element relative error <= 2·(16 + 3z²)·2^-24' };
  } finally {
    gpu.destroyTensor(x);
    y.release();
  }
}

async function siluCase(gpu: Gpu) {
  const m = 3, inter = 77;
  const v = uniformArray(m * 2 * inter, 5, -8, 8);
  const gu = upload(gpu, v, [m, 2 * inter], 'f32');
  const out = poisoned(gpu, [m, inter]);
  try {
    const got = await runAndRead(gpu, (rec) => siluMul(rec, gpu, gu, out), out);
    let worst = 0;
    const ref = refSiluMul(v, m, inter);
    for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(got[i]! - ref[i]!) / (Math.abs(ref[i]!) + 1e-30));
    // exp within a few ulp for |g| <= 8, then a division and a product: 1e-6 per element.
    return result(Number.isNaN(worst) ? Infinity : worst, 1e-6, `siluMul [${m}, ${2 * inter}] per-element relative error`);
  } finally {
    gpu.destroyTensor(gu);
    out.release();
  }
}

export const selfTests: SelfTestCase[] = [
  { name: 'activation/gelu exact erf', run: geluCase },
  { name: 'activation/siluMul', run: siluCase },
];
