// Benchmark cases of the activation family at ViLaVT-7B shapes: SwiGLU of the LLM MLP, GELU of the vision merger.
import type { Gpu } from '../../src/runtime/device.js';
import { gelu, siluMul } from '../../src/ops/activation.js';
import type { BenchCase } from '../timing.js';
import { actBytes, benchActs, makeCase, SHAPES_7B } from './make-case.js';

const { inter: INTER, merger: MERGER } = SHAPES_7B;

export function benchCases(gpu: Gpu): BenchCase[] {
  return benchActs(gpu).flatMap((act) => {
    const e = actBytes(act);
    return [
      ...[1, 512].map((rows) => makeCase(gpu, `siluMul ${act}`, `[${rows}, 2x${INTER}]`, rows * INTER * e * 3, rows * INTER * 6,
        (t) => { const gu = t([rows, 2 * INTER], act, 4), out = t([rows, INTER], act);
          return (rec) => siluMul(rec, gpu, gu, out); })),
      // Out of place so every repetition sees the same data: repeated in-place GELU drives it towards 0
      // (gelu(x) ≈ x/2 near 0) and into denormals. The patch merger's in-place call runs the same code.
      makeCase(gpu, `gelu ${act}`, `[1024, ${MERGER}]`, 1024 * MERGER * e * 2, 1024 * MERGER * 20,
        (t) => { const x = t([1024, MERGER], act, 4), y = t([1024, MERGER], act); return (rec) => gelu(rec, gpu, x, y); }),
    ];
  });
}
