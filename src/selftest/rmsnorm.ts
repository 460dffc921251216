// Self-test of the RMSNorm ops (kernels/rmsnorm.wgsl) against the float64 reference, f32 activations.
import type { Gpu } from '../runtime/device.js';
import { headRmsNorm, rmsNorm } from '../ops/rmsnorm.js';
import { refHeadRmsNorm, refRmsNorm } from '../reference/rmsnorm.js';
import { poisoned, result, runAndRead, upload } from './elementwise-util.js';
import { uniformArray } from '../util/random.js';
import { maxRelErr } from '../util/rel-err.js';
import type { SelfTestCase } from './types.js';

// f32 sums of squares over <= 22-term chains, rsqrt within 2 ulp: a few 1e-7 relative; 3e-6 leaves margin.
const TOL = 3e-6;
const EPS = 1e-6;

async function rows(gpu: Gpu, m: number, d: number, residual: boolean) {
  const xv = uniformArray(m * d, 1 + d, -2, 2);
  const rv = uniformArray(m * d, 2 + d);
  const wv = uniformArray(d, 3 + d, 0.5, 1.5);
  const x = upload(gpu, xv, [m, d], 'f32');
  const r = residual ? upload(gpu, rv, [m, d], 'f32') : null;
  const w = upload(gpu, wv, [d], 'f32');
  const y = poisoned(gpu, [m, d]);
  try {
    const got = await runAndRead(gpu, (rec) => rmsNorm(rec, gpu, x, w, y, EPS, r ? { residual: r } : {}), y);
    const ref = refRmsNorm(xv, wv, m, d, EPS, residual ? rv : undefined);
    const err = Math.max(maxRelErr(got, ref.y), maxRelErr(await gpu.read(x), ref.x));
    return result(err, TOL, `[${m}, ${d}]${residual ? ' + residual' : ''}`);
  } finally {
    for (const t of [x, w, ...(r ? [r] : [])]) gpu.destroyTensor(t);
    y.release();
  }
}

async function heads(gpu: Gpu) {
  const rowsN = 3, heads = 4, hd = 8, stride = 6 * hd;
  const v = uniformArray(rowsN * stride, 9, -3, 3);
  const wv = uniformArray(hd, 10, 0.5, 1.5);
  const t = upload(gpu, v, [rowsN, stride], 'f32');
  const w = upload(gpu, wv, [hd], 'f32');
  try {
    const got = await runAndRead(gpu, (rec) => headRmsNorm(rec, gpu, { t, stride, offset: hd }, heads, hd, rowsN, w, EPS), t);
    const err = maxRelErr(got, refHeadRmsNorm(v, stride, hd, rowsN, heads, hd, wv, EPS));
    return result(err, TOL, `${rowsN} rows x ${heads} heads x ${hd}, strided`);
  } finally {
    gpu.destroyTensor(t);
    gpu.destroyTensor(w);
  }
}

export const selfTests: SelfTestCase[] = [
  { name: 'norm/rmsNorm [5, 129]', run: (gpu) => rows(gpu, 5, 129, false) },
  { name: 'norm/rmsNorm+residual [3, 300]', run: (gpu) => rows(gpu, 3, 300, true) },
  { name: 'norm/headRmsNorm strided', run: heads },
];
