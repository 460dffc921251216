// Benchmarks of the linear op at the real model's shapes (Qwen2.5-VL-7B LLM: hidden 3584, intermediate 18944,
// kv 512; ViT: hidden 1280, MLP 3420; text encoder: hidden 1024, MLP 3072). Decode is one activation row through
// the matrix-vector kernel; prefill uses the tiled kernel with row counts scaled down so each case runs in well
// under a second on a software adapter (the time per row is what matters; rows scale linearly).
import type { Gpu } from '../../src/runtime/device.js';
import type { ActDType, WeightDType } from '../../src/runtime/dtype.js';
import {
  checkLinear, matmulPlan, matvecPlan, recordLinear, type LinearPlan, type LinearShape,
} from '../../src/ops/matmul.js';
import type { Recorder } from '../../src/runtime/recorder.js';
import type { Tensor } from '../../src/runtime/tensor.js';
import { fillUniform, type BenchCase } from '../timing.js';

interface LinearSpec {
  name: string;
  m: number; n: number; k: number;
  weight: WeightDType;
  act?: ActDType;
  bias?: boolean;
  quick?: boolean;
  note?: string;
  /** A layout other than the one `linear` picks for this adapter (design comparisons). */
  plan?: (gpu: Gpu) => LinearPlan | null;
}

/** Random weights as raw bytes, generated directly in the storage format (values of a trained layer's size). */
function weightBytes(count: number, dtype: WeightDType, seed: number): Uint8Array {
  if (dtype === 'f32') return new Uint8Array(fillUniform(new Float32Array(count), seed, 0.05).buffer);
  const words = new Uint32Array(Math.ceil(count / 2));
  let s = seed >>> 0 || 1;
  // Sign, exponent 2^-8 .. 2^-5 and random mantissa: normal numbers in both 16-bit formats.
  const half = dtype === 'bf16'
    ? (r: number) => ((r & 0x8000) | ((119 + (r >>> 16 & 3)) << 7) | (r >>> 20 & 0x7f))
    : (r: number) => ((r & 0x8000) | ((7 + (r >>> 16 & 3)) << 10) | (r >>> 18 & 0x3ff));
  for (let i = 0; i < words.length; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    const a = half(s);
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    words[i] = (a | (half(s) << 16)) >>> 0;
  }
  return new Uint8Array(words.buffer, 0, count * 2);
}

function linearCase(spec: LinearSpec): BenchCase {
  const act = spec.act ?? 'f32';
  const wBytes = spec.n * spec.k * (spec.weight === 'f32' ? 4 : 2);
  const actBytes = act === 'f16' ? 2 : 4;
  const decode = spec.m === 1;
  let x: Tensor, w: Tensor, y: Tensor, bias: Tensor | null = null;
  let shape: LinearShape;
  let plan: LinearPlan;
  return {
    name: spec.name,
    shape: `[${spec.m}x${spec.k}]·[${spec.n}x${spec.k}]ᵀ ${spec.weight} weights, ${act} act`,
    // Decode is judged on the weight stream alone; prefill on the minimum traffic (weights, x and y once).
    bytes: decode ? wBytes : wBytes + (spec.m * spec.k + spec.m * spec.n) * actBytes,
    flops: 2 * spec.m * spec.n * spec.k,
    quick: spec.quick,
    note: [spec.note, decode ? 'GB/s counts weight bytes' : undefined].filter(Boolean).join('; ') || undefined,
    setup(gpu: Gpu) {
      x = gpu.upload(new Uint8Array(fillUniform(new Float32Array(spec.m * spec.k), 7).buffer), [spec.m, spec.k], 'f32', 'bench x');
      if (act === 'f16') {
        const h = weightBytes(spec.m * spec.k, 'f16', 8);
        gpu.destroyTensor(x);
        x = gpu.upload(h, [spec.m, spec.k], 'f16', 'bench x');
      }
      w = gpu.upload(weightBytes(spec.n * spec.k, spec.weight, 9), [spec.n, spec.k], spec.weight, 'bench w');
      if (spec.bias) bias = gpu.upload(new Uint8Array(fillUniform(new Float32Array(spec.n), 10).buffer), [spec.n], 'f32', 'bench b');
      y = gpu.tensor([spec.m, spec.n], act, 'bench y');
      shape = checkLinear(gpu, x, w, bias, y);
      plan = spec.plan?.(gpu) ?? (decode ? matvecPlan(gpu) : matmulPlan(gpu, spec.k));
    },
    record(rec: Recorder, gpu: Gpu) { recordLinear(rec, gpu, x, w, bias, y, shape, false, plan); },
    dispose(gpu: Gpu) {
      y.release();
      gpu.destroyTensor(x);
      gpu.destroyTensor(w);
      if (bias) gpu.destroyTensor(bias);
    },
  };
}

const H = 3584, I = 18944, KV = 512; // LLM
const VH = 1280, VI = 3420;           // ViT
const TH = 1024, TI = 3072;           // text encoder

export function benchCases(gpu: Gpu): BenchCase[] {
  const f16 = gpu.features.f16;
  const specs: LinearSpec[] = [
    // Decode (the acceptance shapes are gate/up and down: 135.8 MB of bf16 each, split in two bindings).
    { name: 'matvec LLM mlp.gate_proj/up_proj', m: 1, n: I, k: H, weight: 'bf16' },
    { name: 'matvec LLM mlp.down_proj', m: 1, n: H, k: I, weight: 'bf16' },
    { name: 'matvec LLM attn.q_proj/o_proj', m: 1, n: H, k: H, weight: 'bf16', bias: true, quick: true },
    { name: 'matvec LLM attn.k_proj/v_proj', m: 1, n: KV, k: H, weight: 'bf16', bias: true },
    { name: 'matvec text-encoder mlp.up_proj', m: 1, n: TI, k: TH, weight: 'bf16', quick: true },
    ...(f16 ? [{ name: 'matvec LLM mlp.gate_proj/up_proj', m: 1, n: I, k: H, weight: 'bf16', act: 'f16' } as LinearSpec] : []),
    { name: 'matvec LLM mlp.gate_proj/up_proj', m: 1, n: I, k: H, weight: 'f16' },
    // Layouts `linear` does not pick here, for comparison (bench/NOTES.md).
    {
      name: 'matvec LLM mlp.gate_proj/up_proj, CPU layout (1 lane per 4 rows)', m: 1, n: I, k: H, weight: 'bf16',
      plan: () => ({ kind: 'matvec', workgroup: 64, threadsPerRow: 1 }),
    },
    {
      name: 'matvec LLM mlp.gate_proj/up_proj, GPU layout (32 lanes per 4 rows)', m: 1, n: I, k: H, weight: 'bf16',
      plan: () => ({ kind: 'matvec', workgroup: 256, threadsPerRow: 32 }),
    },
    // Prefill, scaled-down row counts (see note).
    { name: 'matmul LLM attn.q_proj', m: 32, n: H, k: H, weight: 'bf16', bias: true, note: 'prefill scaled to 32 rows' },
    { name: 'matmul LLM mlp.gate_proj', m: 16, n: I, k: H, weight: 'bf16', note: 'prefill scaled to 16 rows' },
    { name: 'matmul LLM mlp.down_proj', m: 16, n: H, k: I, weight: 'bf16', note: 'prefill scaled to 16 rows' },
    { name: 'matmul ViT attn.qkv', m: 64, n: 3 * VH, k: VH, weight: 'bf16', bias: true, note: 'scaled to 64 patches' },
    { name: 'matmul ViT mlp.fc1', m: 64, n: VI, k: VH, weight: 'bf16', bias: true, note: 'scaled to 64 patches' },
    { name: 'matmul ViT mlp.fc2', m: 64, n: VH, k: VI, weight: 'bf16', bias: true, note: 'scaled to 64 patches' },
    { name: 'matmul text-encoder mlp.up_proj', m: 64, n: TI, k: TH, weight: 'bf16', note: 'scaled to 64 tokens', quick: true },
    { name: 'matmul text-encoder mlp.down_proj', m: 64, n: TH, k: TI, weight: 'bf16', note: 'scaled to 64 tokens' },
    ...(f16 ? [{ name: 'matmul ViT mlp.fc1', m: 64, n: VI, k: VH, weight: 'bf16', bias: true, act: 'f16', note: 'scaled to 64 patches' } as LinearSpec] : []),
    // Where the subgroup layout is picked (CPU adapters with subgroups), the 4x4 tiles beside it (bench/NOTES.md).
    {
      name: 'matmul ViT mlp.fc1, 4x4 tiles (the layout without subgroups)', m: 64, n: VI, k: VH, weight: 'bf16', bias: true,
      note: 'scaled to 64 patches', plan: (g) => (matmulPlan(g, VH).subgroupRows ? { kind: 'matmul', workgroup: 64 } : null),
    },
  ];
  return specs.filter((s) => !s.plan || s.plan(gpu) !== null).map(linearCase);
}
