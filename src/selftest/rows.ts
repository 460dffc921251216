// Self-test of the row movement ops (kernels/rows.wgsl): exact copies, so the error must be 0.
import type { Gpu } from '../runtime/device.js';
import type { WeightDType } from '../runtime/dtype.js';
import { embed, gatherRows, scatterRows } from '../ops/rows.js';
import { refEmbed, refGatherRows } from '../reference/rows.js';
import { poisoned, result, runAndRead, stored, upload } from './elementwise-util.js';
import { uniformArray } from '../util/random.js';
import { maxRelErr } from '../util/rel-err.js';
import type { SelfTestCase } from './types.js';

async function permute(gpu: Gpu) {
  const units = 5, d = 9, perm = [3, 0, 4, 2, 1];
  const v = uniformArray(4 * units * d, 21);
  const src = upload(gpu, v, [4 * units, d], 'f32');
  const index = upload(gpu, perm, [units], 'u32');
  const dst = poisoned(gpu, [4 * units, d]);
  const back = upload(gpu, uniformArray(4 * units * d, 22), [4 * units, d], 'f32');
  const rowIndex = upload(gpu, perm.flatMap((u) => [4 * u, 4 * u + 1, 4 * u + 2, 4 * u + 3]), [4 * units], 'u32');
  try {
    const got = await runAndRead(gpu, (rec) => gatherRows(rec, gpu, src, index, dst, 4), dst);
    const restored = await runAndRead(gpu, (rec) => scatterRows(rec, gpu, dst, rowIndex, back, 1), back);
    const err = Math.max(maxRelErr(got, refGatherRows(v, perm, 4 * d)), maxRelErr(restored, v));
    return result(err, 0, 'window permutation (units of 4 rows) and its inverse');
  } finally {
    for (const t of [src, index, back, rowIndex]) gpu.destroyTensor(t);
    dst.release();
  }
}

async function embedCase(gpu: Gpu, wdt: WeightDType) {
  const vocab = 37, d = 11, ids = [0, 36, 5, 5, 17];
  const v = uniformArray(vocab * d, 23, -3, 3);
  const table = upload(gpu, v, [vocab, d], wdt);
  const idsT = upload(gpu, ids, [ids.length], 'u32');
  const out = poisoned(gpu, [ids.length, d]);
  try {
    const got = await runAndRead(gpu, (rec) => embed(rec, gpu, table, idsT, out), out);
    return result(maxRelErr(got, refEmbed(stored(v, wdt), vocab, d, ids)), 0, `${wdt} table [${vocab}, ${d}]`);
  } finally {
    gpu.destroyTensor(table);
    gpu.destroyTensor(idsT);
    out.release();
  }
}

export const selfTests: SelfTestCase[] = [
  { name: 'rows/gather+scatter', run: permute },
  { name: 'rows/embed bf16', run: (gpu) => embedCase(gpu, 'bf16') },
  { name: 'rows/embed f16', run: (gpu) => embedCase(gpu, 'f16') },
  { name: 'rows/embed f32', run: (gpu) => embedCase(gpu, 'f32') },
];
