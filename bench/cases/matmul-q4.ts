// Benchmarks of the 4-bit linear op (src/ops/matmul-q4.ts) at the real model's LLM shapes (Qwen2.5-VL-7B: hidden
// 3584, intermediate 18944, kv 512), group 128 as published AWQ checkpoints use. Decode is one activation row
// through the matrix-vector kernel; prefill uses the matrix kernel linearQ4 picks, with the row count scaled down (rows scale
// linearly). bytes = packed codes + group words (f16 scale and zero point, 4 bytes per group and row) + x + y;
// flops = 2 per multiply-add (dequantization not counted): the roofline's inputs (bench/roofline.ts).
import type { Gpu } from '../../src/runtime/device.js';
import type { ActDType } from '../../src/runtime/dtype.js';
import { numberToF16Bits } from '../../src/runtime/dtype.js';
import {
  checkLinearQ4, destroyQ4, q4MatmulPlan, q4MatvecPlan, q4RowBlock, q4RowBytes, recordLinearQ4, uploadQ4,
  type Q4LinearShape, type Q4Plan, type Q4RowBlock, type Q4Weight,
} from '../../src/ops/matmul-q4.js';
import type { Recorder } from '../../src/runtime/recorder.js';
import type { Tensor } from '../../src/runtime/tensor.js';
import { fillUniform, type BenchCase } from '../timing.js';

interface Q4Spec {
  name: string; m: number; n: number; k: number; group?: number; act?: ActDType; quick?: boolean; note?: string;
  /** A layout other than the one `linearQ4` picks, or null to leave the case out on this adapter. */
  plan?: (gpu: Gpu) => Q4Plan | null;
  /** A code layout other than the one the loader picks (`q4RowBlock`). */
  rowBlock?: Q4RowBlock;
}

/** Random packed codes and group words (scales 2^-8..2^-5: normal f16, like a trained layer's steps). */
export function packedRandom(n: number, k: number, group: number, seed: number): { codes: Uint32Array; groups: Uint32Array } {
  let s = seed >>> 0 || 1;
  const next = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
  const codes = new Uint32Array((n * k) / 8);
  for (let i = 0; i < codes.length; i++) codes[i] = next();
  const groups = new Uint32Array((n * k) / group);
  for (let i = 0; i < groups.length; i++) {
    const r = next();
    groups[i] = (numberToF16Bits((1 + (r & 0xff) / 256) * 2 ** -(5 + ((r >>> 8) & 3))) | (((r >>> 12) & 15) << 16)) >>> 0;
  }
  return { codes, groups };
}

function q4Case(spec: Q4Spec): BenchCase {
  const act = spec.act ?? 'f32';
  const group = spec.group ?? 128;
  const actBytes = act === 'f16' ? 2 : 4;
  let x: Tensor, y: Tensor, w: Q4Weight, shape: Q4LinearShape, plan: Q4Plan;
  return {
    name: spec.name,
    shape: `[${spec.m}x${spec.k}]·[${spec.n}x${spec.k}]ᵀ q4 g${group} weights, ${act} act`,
    bytes: spec.n * q4RowBytes(spec.k, group) + (spec.m * spec.k + spec.m * spec.n) * actBytes,
    flops: 2 * spec.m * spec.n * spec.k,
    quick: spec.quick,
    note: spec.note,
    setup(gpu: Gpu) {
      const xv = fillUniform(new Float32Array(spec.m * spec.k), 7);
      x = act === 'f16'
        ? gpu.upload(new Uint8Array(new Uint16Array(Array.from(xv, numberToF16Bits)).buffer), [spec.m, spec.k], 'f16', 'bench x')
        : gpu.upload(new Uint8Array(xv.buffer), [spec.m, spec.k], 'f32', 'bench x');
      w = uploadQ4(gpu, packedRandom(spec.n, spec.k, group, 9), spec.n, spec.k, group, 'bench q4 w', spec.rowBlock ?? q4RowBlock(gpu, group));
      y = gpu.tensor([spec.m, spec.n], act, 'bench y');
      shape = checkLinearQ4(gpu, x, w, null, y);
      plan = spec.plan?.(gpu) ?? (spec.m === 1 ? q4MatvecPlan(gpu, spec.k, group) : q4MatmulPlan(gpu));
    },
    record(rec: Recorder, gpu: Gpu) { recordLinearQ4(rec, gpu, x, w, null, y, shape, false, plan); },
    dispose(gpu: Gpu) {
      y.release();
      gpu.destroyTensor(x);
      destroyQ4(gpu, w);
    },
  };
}

const H = 3584, I = 18944, KV = 512;

export function benchCases(gpu: Gpu): BenchCase[] {
  const specs: Q4Spec[] = [
    { name: 'q4 matvec LLM mlp.gate_proj/up_proj', m: 1, n: I, k: H, quick: true },
    { name: 'q4 matvec LLM mlp.down_proj', m: 1, n: H, k: I },
    { name: 'q4 matvec LLM attn.q_proj/o_proj', m: 1, n: H, k: H },
    { name: 'q4 matvec LLM attn.k_proj/v_proj', m: 1, n: KV, k: H },
    ...(gpu.features.f16 ? [{ name: 'q4 matvec LLM mlp.gate_proj/up_proj', m: 1, n: I, k: H, act: 'f16' } as Q4Spec] : []),
    { name: 'q4 matmul LLM mlp.gate_proj', m: 16, n: I, k: H, note: 'prefill scaled to 16 rows' },
    { name: 'q4 matmul LLM attn.q_proj', m: 32, n: H, k: H, quick: true, note: 'prefill scaled to 32 rows' },
    // Where the subgroup layouts are picked (CPU adapters with subgroups), the layouts without them beside them,
    // and where codes come in row blocks, the same kernels on row-major codes (bench/NOTES.md).
    {
      name: 'q4 matvec LLM mlp.gate_proj/up_proj, each lane loading x (the layout without subgroups)', m: 1, n: I, k: H, rowBlock: 1,
      plan: (g) => (q4MatvecPlan(g, H, 128).shareX ? { kind: 'matvec', workgroup: 64, threadsPerRow: 1 } : null),
    },
    {
      name: 'q4 matmul LLM attn.q_proj, 4x4 tiles (the layout without subgroups)', m: 32, n: H, k: H, note: 'prefill scaled to 32 rows',
      rowBlock: 1, plan: (g) => (q4MatmulPlan(g).subgroupRows ? { kind: 'matmul', workgroup: 64 } : null),
    },
    {
      name: 'q4 matvec LLM mlp.gate_proj/up_proj, row-major codes (the layout without row blocks)', m: 1, n: I, k: H, rowBlock: 1,
      plan: (g) => (q4RowBlock(g, 128) !== 1 ? q4MatvecPlan(g, H, 128) : null),
    },
    {
      name: 'q4 matmul LLM attn.q_proj, row-major codes (the layout without row blocks)', m: 32, n: H, k: H, note: 'prefill scaled to 32 rows',
      rowBlock: 1, plan: (g) => (q4RowBlock(g, 128) !== 1 ? q4MatmulPlan(g) : null),
    },
  ];
  return specs.filter((s) => !s.plan || s.plan(gpu) !== null).map(q4Case);
}
