// Benchmark cases of the next-token family at the ViLaVT-7B vocabulary: argmax and top-p sampling.
import type { Gpu } from '../../src/runtime/device.js';
import { argmax, sampleTopP } from '../../src/ops/sample.js';
import type { BenchCase } from '../timing.js';
import { actBytes, benchActs, makeCase, SHAPES_7B } from './make-case.js';

const { vocab: VOCAB } = SHAPES_7B;

export function benchCases(gpu: Gpu): BenchCase[] {
  return benchActs(gpu).flatMap((act) => {
    const e = actBytes(act);
    return [
      makeCase(gpu, `argmax ${act}`, `[${VOCAB}]`, VOCAB * e, VOCAB,
        (t) => { const l = t([VOCAB], act, 10), out = t([1], 'u32'); return (rec) => argmax(rec, gpu, l, out); }),
      makeCase(gpu, `sampleTopP ${act}`, `[${VOCAB}] T 0.7 topP 0.9`, VOCAB * e * 13, VOCAB * 13 * 10,
        (t) => { const l = t([VOCAB], act, 10), out = t([1], 'u32');
          return (rec) => sampleTopP(rec, gpu, l, out, { temperature: 0.7, topP: 0.9, uniform: 0.37 }); }),
    ];
  });
}
