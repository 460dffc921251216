// Benchmark cases for the attention kernels at the real model's shapes (ViT 16 heads x 80, LLM 28/4 heads x 128).
// Full attention over 6440 tokens is 16x the 1610-token case (minutes on lavapipe): only with `opts.large`.
import type { Gpu } from '../../src/runtime/device.js';
import type { Tensor } from '../../src/runtime/tensor.js';
import { encode, type ActDType } from '../../src/runtime/dtype.js';
import { causalAttention, segmentedAttention } from '../../src/ops/attention.js';
import { fillUniform, type BenchCase } from '../timing.js';

function upload(gpu: Gpu, rows: number, cols: number, dtype: ActDType, seed: number): Tensor {
  return gpu.upload(encode(fillUniform(new Float32Array(rows * cols), seed), dtype), [rows, cols], dtype, 'bench');
}

function cuTable(gpu: Gpu, sizes: readonly number[]): Tensor {
  const cu = [0];
  for (const s of sizes) cu.push(cu[cu.length - 1]! + s);
  return gpu.upload(encode(cu, 'u32'), [cu.length], 'u32', 'bench-cu');
}

/** Non-causal self-attention in equal segments over a fused qkv buffer (ViT window / full blocks). */
function vitCase(gpu: Gpu, dtype: ActDType, name: string, segments: number, segLen: number): BenchCase {
  const heads = 16, d = 80, w = heads * d, n = segments * segLen;
  let qkv: Tensor, cu: Tensor, out: Tensor;
  const el = dtype === 'f16' ? 2 : 4;
  return {
    name,
    shape: `${segments}x${segLen} tokens, ${heads}x${d}, ${dtype}`,
    bytes: n * 4 * w * el,
    note: 'bytes: q, k, v read once + out written (k/v re-reads hit caches); flops: 4·Nq·keys·heads·d',
    quick: segLen === 64,
    flops: 4 * segments * segLen * segLen * heads * d,
    setup() {
      qkv = upload(gpu, n, 3 * w, dtype, 1);
      cu = cuTable(gpu, new Array(segments).fill(segLen));
      out = gpu.tensor([n, w], dtype, 'bench-out');
    },
    record(rec) {
      segmentedAttention(rec, gpu, {
        q: { t: qkv, stride: 3 * w, offset: 0 }, k: { t: qkv, stride: 3 * w, offset: w }, v: { t: qkv, stride: 3 * w, offset: 2 * w },
        cuQ: cu, cuKv: cu, heads, kvHeads: heads, headDim: d, scale: 1 / Math.sqrt(d), out,
      });
    },
    dispose() { gpu.destroyTensor(qkv); gpu.destroyTensor(cu); out.release(); },
  };
}

/** LLM causal attention (28/4 heads x 128) against `past` cached keys plus `rows` new ones. */
function llmCase(gpu: Gpu, dtype: ActDType, name: string, rows: number, past: number): BenchCase {
  const heads = 28, kvHeads = 4, d = 128, w = heads * d, kw = kvHeads * d, ctx = past + rows;
  let q: Tensor, k: Tensor, v: Tensor, out: Tensor;
  const el = dtype === 'f16' ? 2 : 4;
  let keysSeen = 0;
  for (let i = 0; i < rows; i++) keysSeen += past + i + 1;
  return {
    name,
    shape: `T=${rows} past=${past}, ${heads}/${kvHeads}x${d}, ${dtype}`,
    bytes: (2 * ctx * kw + 2 * rows * w) * el,
    note: 'bytes: the K/V cache streamed once + q + out; flops: 4·(keys seen)·heads·d',
    quick: rows === 1,
    flops: 4 * keysSeen * heads * d,
    setup() {
      q = upload(gpu, rows, w, dtype, 2);
      k = upload(gpu, ctx, kw, dtype, 3);
      v = upload(gpu, ctx, kw, dtype, 4);
      out = gpu.tensor([rows, w], dtype, 'bench-out');
    },
    record(rec) {
      causalAttention(rec, gpu, {
        q: { t: q, stride: w, offset: 0 }, rows, k: { t: k, stride: kw, offset: 0 }, v: { t: v, stride: kw, offset: 0 },
        past, heads, kvHeads, headDim: d, scale: 1 / Math.sqrt(d), out,
      });
    },
    dispose() { for (const t of [q, k, v]) gpu.destroyTensor(t); out.release(); },
  };
}

export function benchCases(gpu: Gpu, opts: { large?: boolean } = {}): BenchCase[] {
  const dtypes: ActDType[] = gpu.features.f16 ? ['f32', 'f16'] : ['f32'];
  return dtypes.flatMap((dt) => [
    vitCase(gpu, dt, `attention.vit-window.${dt}`, 108, 64),
    vitCase(gpu, dt, `attention.vit-full-1610.${dt}`, 1, 1610),
    ...(opts.large ? [vitCase(gpu, dt, `attention.vit-full-6440.${dt}`, 1, 6440)] : []),
    llmCase(gpu, dt, `attention.llm-decode-4k.${dt}`, 1, 4095),
    llmCase(gpu, dt, `attention.llm-prefill-128@512.${dt}`, 128, 512),
  ]);
}
