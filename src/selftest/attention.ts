// Self-test of the attention kernels on the running device (small shapes, f32 activations) against the float64
// references: QA-style segmented attention with appended keys, causal prefill with past > 0, split-K decode.
import type { Gpu } from '../runtime/device.js';
import { encode } from '../runtime/dtype.js';
import type { Recorder } from '../runtime/recorder.js';
import type { Tensor } from '../runtime/tensor.js';
import { causalAttention, segmentedAttention } from '../ops/attention.js';
import { refCausalAttention, refSegmentedAttention } from '../reference/attention.js';
import type { SelfTestCase } from './types.js';
import { uniformArray } from '../util/random.js';
import { maxRelErr } from '../util/rel-err.js';

/** f32 math, <= 600 keys: see test/kernels/attention.test.ts for the error budget. */
const TOLERANCE = 1e-4;

const values = (n: number, seed: number): Float32Array => uniformArray(n, seed);

async function withTensors<T>(gpu: Gpu, body: (up: (v: ArrayLike<number>, shape: number[], dt?: 'f32' | 'u32') => Tensor) => Promise<T>): Promise<T> {
  const made: Tensor[] = [];
  const up = (v: ArrayLike<number>, shape: number[], dt: 'f32' | 'u32' = 'f32') => {
    const t = gpu.upload(encode(v, dt), shape, dt, 'selftest');
    made.push(t);
    return t;
  };
  try { return await body(up); } finally { for (const t of made) gpu.destroyTensor(t); }
}

async function runAndCompare(gpu: Gpu, out: Tensor, record: (rec: Recorder) => void, ref: Float64Array) {
  const rec = gpu.recorder();
  gpu.write(out, new Uint8Array(new Float32Array(out.numel).fill(NaN).buffer)); // unwritten rows must fail
  record(rec);
  rec.submit();
  const got = await gpu.read(out);
  rec.destroy();
  out.release();
  const err = maxRelErr(got, ref);
  return { ok: err < TOLERANCE, maxRelErr: err };
}

export const selfTests: SelfTestCase[] = [
  {
    name: 'attention: segmented + appended keys (GQA 2, head_dim 16)',
    run: (gpu) => withTensors(gpu, async (up) => {
      const heads = 4, kvHeads = 2, d = 16, w = heads * d, kw = kvHeads * d;
      const cuQ = [0, 7, 7, 20], cuKv = [0, 7, 9, 22], cuE = [0, 3, 5, 5];
      const q = values(20 * w, 1), kv = values(22 * 2 * kw, 2), e = values(5 * 2 * kw, 3);
      for (let c = 0; c < d; c++) q[c]! *= 25; // a row with scores far beyond exp's f32 range
      const tq = up(q, [20, w]), tkv = up(kv, [22, 2 * kw]), te = up(e, [5, 2 * kw]);
      const out = gpu.tensor([20, w], 'f32');
      const ref = refSegmentedAttention({
        q: { data: q, stride: w, offset: 0 }, k: { data: kv, stride: 2 * kw, offset: 0 }, v: { data: kv, stride: 2 * kw, offset: kw },
        cuQ, cuKv, extra: { k: { data: e, stride: 2 * kw, offset: 0 }, v: { data: e, stride: 2 * kw, offset: kw }, cu: cuE },
        heads, kvHeads, headDim: d, scale: 0.25,
      });
      return runAndCompare(gpu, out, (rec) => segmentedAttention(rec, gpu, {
        q: { t: tq, stride: w, offset: 0 }, k: { t: tkv, stride: 2 * kw, offset: 0 }, v: { t: tkv, stride: 2 * kw, offset: kw },
        cuQ: up(cuQ, [4], 'u32'), cuKv: up(cuKv, [4], 'u32'),
        extra: { k: { t: te, stride: 2 * kw, offset: 0 }, v: { t: te, stride: 2 * kw, offset: kw }, cu: up(cuE, [4], 'u32') },
        heads, kvHeads, headDim: d, scale: 0.25, out,
      }), ref);
    }),
  },
  ...[{ rows: 11, past: 37 }, { rows: 1, past: 599 }].map(({ rows, past }): SelfTestCase => ({
    name: `attention: causal ${rows === 1 ? 'decode' : 'prefill'} T=${rows} past=${past} (GQA 7, head_dim 32)`,
    run: (gpu) => withTensors(gpu, async (up) => {
      const heads = 7, kvHeads = 1, d = 32, w = heads * d, kw = kvHeads * d, ctx = past + rows;
      const q = values(rows * w, 4), k = values(ctx * kw, 5), v = values(ctx * kw, 6);
      const tq = up(q, [rows, w]), tk = up(k, [ctx, kw]), tv = up(v, [ctx, kw]);
      const out = gpu.tensor([rows, w], 'f32');
      const ref = refCausalAttention({
        q: { data: q, stride: w, offset: 0 }, rows, k: { data: k, stride: kw, offset: 0 }, v: { data: v, stride: kw, offset: 0 },
        past, heads, kvHeads, headDim: d, scale: 1 / Math.sqrt(d),
      });
      return runAndCompare(gpu, out, (rec) => causalAttention(rec, gpu, {
        q: { t: tq, stride: w, offset: 0 }, rows, k: { t: tk, stride: kw, offset: 0 }, v: { t: tv, stride: kw, offset: 0 },
        past, heads, kvHeads, headDim: d, scale: 1 / Math.sqrt(d), out,
      }), ref);
    }),
  })),
];
