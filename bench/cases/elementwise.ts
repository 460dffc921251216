// Benchmark cases of the element-wise kernels at ViLaVT-7B shapes: RMSNorm (+ residual), SwiGLU activation,
// GELU (vision merger), rotary embedding, embedding gather and next-token selection. Activations f32, or f16
// where the device has shader-f16.
import type { Gpu } from '../../src/runtime/device.js';
import { encode, type ActDType, type DType } from '../../src/runtime/dtype.js';
import type { Recorder } from '../../src/runtime/recorder.js';
import type { Tensor } from '../../src/runtime/tensor.js';
import { gelu, siluMul } from '../../src/ops/activation.js';
import { headRmsNorm, rmsNorm } from '../../src/ops/norm.js';
import { applyRope } from '../../src/ops/rope.js';
import { embed } from '../../src/ops/rows.js';
import { argmax, sampleTopP } from '../../src/ops/sample.js';
import { mropeTable } from '../../src/model/rope-tables.js';
import type { BenchCase } from '../timing.js';


const HIDDEN = 3584;
const INTER = 18944;
const HEADS = 28;
const KV_HEADS = 4;
const HEAD_DIM = 128;
const VOCAB = 152064;
const MERGER = 5120;

function noise(n: number, seed: number, scale = 1): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    out[i] = ((a / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

/** A case whose tensors are created in setup and destroyed in teardown. */
function makeCase(gpu: Gpu, name: string, shape: string, bytes: number, flops: number,
  build: (t: (shape: number[], dtype: DType, scale?: number) => Tensor, own: (t: Tensor) => Tensor) => (rec: Recorder) => void): BenchCase {
  let owned: Tensor[] = [];
  let body: ((rec: Recorder) => void) | null = null;
  return {
    name, shape, bytes, flops,
    setup() {
      let seed = 1;
      body = build((s, dtype, scale = 1) => {
        const n = s.reduce((a, b) => a * b, 1);
        const t = gpu.upload(encode(noise(n, seed++, scale), dtype), s, dtype, name);
        owned.push(t);
        return t;
      }, (t) => { owned.push(t); return t; });
    },
    record(rec) { body!(rec); },
    dispose() { for (const t of owned) gpu.destroyTensor(t); owned = []; body = null; },
  };
}

export function benchCases(gpu: Gpu): BenchCase[] {
  const acts: ActDType[] = gpu.features.f16 ? ['f32', 'f16'] : ['f32'];
  const cases: BenchCase[] = [];
  for (const act of acts) {
    const e = act === 'f16' ? 2 : 4;
    for (const rows of [1, 512]) {
      cases.push(makeCase(gpu, `rmsNorm+residual ${act}`, `[${rows}, ${HIDDEN}]`, rows * HIDDEN * e * 4 + HIDDEN * 4, rows * HIDDEN * 5,
        (t) => { const x = t([rows, HIDDEN], act), r = t([rows, HIDDEN], act), w = t([HIDDEN], 'f32'), y = t([rows, HIDDEN], act);
          return (rec) => rmsNorm(rec, gpu, x, w, y, 1e-6, { residual: r }); }));
      cases.push(makeCase(gpu, `siluMul ${act}`, `[${rows}, 2x${INTER}]`, rows * INTER * e * 3, rows * INTER * 6,
        (t) => { const gu = t([rows, 2 * INTER], act, 4), out = t([rows, INTER], act);
          return (rec) => siluMul(rec, gpu, gu, out); }));
      const stride = (HEADS + 2 * KV_HEADS) * HEAD_DIM;
      cases.push(makeCase(gpu, `applyRope q+k ${act}`, `[${rows}, ${HEADS}+${KV_HEADS} heads x ${HEAD_DIM}]`,
        rows * (HEADS + KV_HEADS) * HEAD_DIM * e * 2 + rows * HEAD_DIM * 4, rows * (HEADS + KV_HEADS) * HEAD_DIM * 3,
        (t, own) => {
          const qkv = t([rows, stride], act);
          const pos = Int32Array.from({ length: 3 * rows }, (_, i) => 1000 + (i % rows));
          const table = own(gpu.upload(new Uint8Array(mropeTable(pos, HEAD_DIM, [16, 24, 24], 1e6).buffer), [rows, HEAD_DIM], 'f32', 'rope'));
          return (rec) => applyRope(rec, gpu, { t: qkv, stride, offset: 0 }, rows, HEADS + KV_HEADS, HEAD_DIM, table);
        }));
      cases.push(makeCase(gpu, `embed bf16 -> ${act}`, `${rows} ids x ${HIDDEN} (table 16384 rows)`, rows * HIDDEN * (2 + e), 0,
        (t, own) => {
          const table = t([16384, HIDDEN], 'bf16');
          const ids = own(gpu.upload(encode(Array.from({ length: rows }, (_, i) => (i * 7919) % 16384), 'u32'), [rows], 'u32', 'ids'));
          const out = t([rows, HIDDEN], act);
          return (rec) => embed(rec, gpu, table, ids, out);
        }));
    }
    cases.push(makeCase(gpu, `headRmsNorm q+k ${act}`, `[512, ${16}+${8} heads x ${HEAD_DIM}]`, 512 * 24 * HEAD_DIM * e * 2, 512 * 24 * HEAD_DIM * 4,
      (t) => { const qkv = t([512, 32 * HEAD_DIM], act), w = t([HEAD_DIM], 'f32');
        return (rec) => headRmsNorm(rec, gpu, { t: qkv, stride: 32 * HEAD_DIM, offset: 0 }, 24, HEAD_DIM, 512, w, 1e-6); }));
    // Out of place so every repetition sees the same data: repeated in-place GELU drives it towards 0
    // (gelu(x) ≈ x/2 near 0) and into denormals. The patch merger's in-place call runs the same code.
    cases.push(makeCase(gpu, `gelu ${act}`, `[1024, ${MERGER}]`, 1024 * MERGER * e * 2, 1024 * MERGER * 20,
      (t) => { const x = t([1024, MERGER], act, 4), y = t([1024, MERGER], act); return (rec) => gelu(rec, gpu, x, y); }));
    cases.push(makeCase(gpu, `argmax ${act}`, `[${VOCAB}]`, VOCAB * e, VOCAB,
      (t) => { const l = t([VOCAB], act, 10), out = t([1], 'u32'); return (rec) => argmax(rec, gpu, l, out); }));
    cases.push(makeCase(gpu, `sampleTopP ${act}`, `[${VOCAB}] T 0.7 topP 0.9`, VOCAB * e * 13, VOCAB * 13 * 10,
      (t) => { const l = t([VOCAB], act, 10), out = t([1], 'u32');
        return (rec) => sampleTopP(rec, gpu, l, out, { temperature: 0.7, topP: 0.9, uniform: 0.37 }); }));
  }
  return cases;
}
