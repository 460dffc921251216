// Benchmark cases of the rotary family at ViLaVT-7B shapes: M-RoPE on the q and k heads of the LLM's fused qkv.
import type { Gpu } from '../../src/runtime/device.js';
import { applyRope } from '../../src/ops/rope.js';
import { mropeTable } from '../../src/ops/rope-tables.js';
import type { BenchCase } from '../timing.js';
import { actBytes, benchActs, makeCase, SHAPES_7B } from './make-case.js';

const { heads: HEADS, kvHeads: KV_HEADS, headDim: HEAD_DIM } = SHAPES_7B;

export function benchCases(gpu: Gpu): BenchCase[] {
  return benchActs(gpu).flatMap((act) => [1, 512].map((rows) => {
    const e = actBytes(act);
    const stride = (HEADS + 2 * KV_HEADS) * HEAD_DIM;
    return makeCase(gpu, `applyRope q+k ${act}`, `[${rows}, ${HEADS}+${KV_HEADS} heads x ${HEAD_DIM}]`,
      rows * (HEADS + KV_HEADS) * HEAD_DIM * e * 2 + rows * HEAD_DIM * 4, rows * (HEADS + KV_HEADS) * HEAD_DIM * 3,
      (t, own) => {
        const qkv = t([rows, stride], act);
        const pos = Int32Array.from({ length: 3 * rows }, (_, i) => 1000 + (i % rows));
        const table = own(gpu.upload(new Uint8Array(mropeTable(pos, HEAD_DIM, [16, 24, 24], 1e6).buffer), [rows, HEAD_DIM], 'f32', 'rope'));
        return (rec) => applyRope(rec, gpu, { t: qkv, stride, offset: 0 }, rows, HEADS + KV_HEADS, HEAD_DIM, table);
      });
  }));
}
