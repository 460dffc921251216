// Self-test of the rotary op (kernels/rope.wgsl) with the CPU tables of src/ops/rope-tables.ts, f32 activations.
import type { Gpu } from '../runtime/device.js';
import { applyRope } from '../ops/rope.js';
import { mropeTable, visionRopeTable } from '../ops/rope-tables.js';
import { refApplyRope } from '../reference/rope.js';
import { result, runAndRead, upload } from './elementwise-util.js';
import { uniformArray } from '../util/random.js';
import { maxRelErr } from '../util/rel-err.js';
import type { SelfTestCase } from './types.js';

async function rope(gpu: Gpu, rows: number, heads: number, extra: number, hd: number, table: Float32Array, what: string) {
  const stride = (heads + extra) * hd;
  const v = uniformArray(rows * stride, rows + hd, -2, 2);
  const t = upload(gpu, v, [rows, stride], 'f32');
  const tab = upload(gpu, table, [rows, hd], 'f32');
  try {
    const got = await runAndRead(gpu, (rec) => applyRope(rec, gpu, { t, stride, offset: 0 }, rows, heads, hd, tab), t);
    // Two products and a sum in f32: a few 1e-7 of max |x|.
    return result(maxRelErr(got, refApplyRope(v, stride, 0, rows, heads, hd, table)), 1e-6, what);
  } finally {
    gpu.destroyTensor(t);
    gpu.destroyTensor(tab);
  }
}

const visionPos = Int32Array.from({ length: 2 * 7 }, (_, i) => (i * 13) % 29);
const mropePos = Int32Array.from({ length: 3 * 5 }, (_, i) => 100 + ((i * 7) % 11));

export const selfTests: SelfTestCase[] = [
  { name: 'rope/vision 2-D, q+k of fused qkv', run: (gpu) => rope(gpu, 7, 4, 2, 16, visionRopeTable(visionPos, 16), '7 rows, 4 heads x 16') },
  { name: 'rope/M-RoPE', run: (gpu) => rope(gpu, 5, 3, 0, 32, mropeTable(mropePos, 32, [4, 6, 6], 1e6), '5 rows, 3 heads x 32') },
];
