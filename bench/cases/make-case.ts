// Shared by the element-wise families' bench cases: the ViLaVT-7B shapes they run at, and a case whose input
// tensors are filled with deterministic noise in setup and destroyed in dispose.
import type { Gpu } from '../../src/runtime/device.js';
import { encode, type ActDType, type DType } from '../../src/runtime/dtype.js';
import type { Recorder } from '../../src/runtime/recorder.js';
import type { Tensor } from '../../src/runtime/tensor.js';
import { fillUniform, type BenchCase } from '../timing.js';

/** Qwen2.5-VL-7B: LLM hidden, MLP intermediate, heads, kv heads, head dim, vocabulary; the ViT merger's MLP width. */
export const SHAPES_7B = { hidden: 3584, inter: 18944, heads: 28, kvHeads: 4, headDim: 128, vocab: 152064, merger: 5120 } as const;

/** Activation dtypes this adapter runs (f16 only with shader-f16). */
export function benchActs(gpu: Gpu): ActDType[] {
  return gpu.features.f16 ? ['f32', 'f16'] : ['f32'];
}

/** Bytes per activation element. */
export const actBytes = (act: ActDType): number => (act === 'f16' ? 2 : 4);

type Fill = (shape: number[], dtype: DType, scale?: number) => Tensor;

/** A case whose tensors are created in setup (`t`: noise in [-scale, scale); `own`: take any tensor) and destroyed in dispose. */
export function makeCase(gpu: Gpu, name: string, shape: string, bytes: number, flops: number,
  build: (t: Fill, own: (t: Tensor) => Tensor) => (rec: Recorder) => void): BenchCase {
  let owned: Tensor[] = [];
  let body: ((rec: Recorder) => void) | null = null;
  return {
    name, shape, bytes, flops,
    setup() {
      let seed = 1;
      body = build((s, dtype, scale = 1) => {
        const n = s.reduce((a, b) => a * b, 1);
        const t = gpu.upload(encode(fillUniform(new Float32Array(n), seed++, scale), dtype), s, dtype, name);
        owned.push(t);
        return t;
      }, (t) => { owned.push(t); return t; });
    },
    record(rec) { body!(rec); },
    dispose() { for (const t of owned) gpu.destroyTensor(t); owned = []; body = null; },
  };
}
