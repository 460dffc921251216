// Benchmark cases of the row family at ViLaVT-7B shapes: the token embedding gather.
import type { Gpu } from '../../src/runtime/device.js';
import { encode } from '../../src/runtime/dtype.js';
import { embed } from '../../src/ops/rows.js';
import type { BenchCase } from '../timing.js';
import { actBytes, benchActs, makeCase, SHAPES_7B } from './make-case.js';

const { hidden: HIDDEN } = SHAPES_7B;

export function benchCases(gpu: Gpu): BenchCase[] {
  return benchActs(gpu).flatMap((act) => [1, 512].map((rows) =>
    makeCase(gpu, `embed bf16 -> ${act}`, `${rows} ids x ${HIDDEN} (table 16384 rows)`, rows * HIDDEN * (2 + actBytes(act)), 0,
      (t, own) => {
        const table = t([16384, HIDDEN], 'bf16');
        const ids = own(gpu.upload(encode(Array.from({ length: rows }, (_, i) => (i * 7919) % 16384), 'u32'), [rows], 'u32', 'ids'));
        const out = t([rows, HIDDEN], act);
        return (rec) => embed(rec, gpu, table, ids, out);
      })));
}
