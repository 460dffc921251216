// Benchmark cases of the RMSNorm family at ViLaVT-7B shapes: the pre-norm fused with the residual add, and the
// per-head q/k norm of the text encoder.
import type { Gpu } from '../../src/runtime/device.js';
import { headRmsNorm, rmsNorm } from '../../src/ops/rmsnorm.js';
import type { BenchCase } from '../timing.js';
import { actBytes, benchActs, makeCase, SHAPES_7B } from './make-case.js';

const { hidden: HIDDEN, headDim: HEAD_DIM } = SHAPES_7B;

export function benchCases(gpu: Gpu): BenchCase[] {
  return benchActs(gpu).flatMap((act) => {
    const e = actBytes(act);
    return [
      ...[1, 512].map((rows) => makeCase(gpu, `rmsNorm+residual ${act}`, `[${rows}, ${HIDDEN}]`, rows * HIDDEN * e * 4 + HIDDEN * 4, rows * HIDDEN * 5,
        (t) => { const x = t([rows, HIDDEN], act), r = t([rows, HIDDEN], act), w = t([HIDDEN], 'f32'), y = t([rows, HIDDEN], act);
          return (rec) => rmsNorm(rec, gpu, x, w, y, 1e-6, { residual: r }); })),
      makeCase(gpu, `headRmsNorm q+k ${act}`, `[512, ${16}+${8} heads x ${HEAD_DIM}]`, 512 * 24 * HEAD_DIM * e * 2, 512 * 24 * HEAD_DIM * 4,
        (t) => { const qkv = t([512, 32 * HEAD_DIM], act), w = t([HEAD_DIM], 'f32');
          return (rec) => headRmsNorm(rec, gpu, { t: qkv, stride: 32 * HEAD_DIM, offset: 0 }, 24, HEAD_DIM, 512, w, 1e-6); }),
    ];
  });
}
