// `npm run bench -- --profile`: GPU time per kernel variant (timestamp queries, src/runtime/profiler.ts) for one
// decode step of the 7B-shaped 4-bit model of bench/decode.ts, on its own profiling device (one pass per dispatch
// there, so these times are a breakdown, not the step's wall time: that is the decode array's ms_per_token).
import { createNodeGpu } from '../src/platform/node.js';
import type { KernelTime } from '../src/runtime/profiler.js';
import { formatKernelTimes } from '../src/runtime/profiler.js';
import { LLM_7B } from './decode.js';
import { randomQ4Llm } from './random-llm.js';

export interface ProfileResult { work: string; kernels: KernelTime[] }

export async function profileDecode(context: number, act: 'f32' | 'f16' = 'f32'): Promise<ProfileResult> {
  const gpu = await createNodeGpu({ profile: true });
  const profiler = gpu.profiler!;
  const m = randomQ4Llm(gpu, LLM_7B, act, { group: 128, embedRows: 1024 });
  const cache = m.llm.newCache(context);
  const state = m.llm.decodeState();
  try {
    const step = async (i: number) => {
      cache.truncate(0);
      cache.commit(context - 1);
      state.setToken(i);
      await m.llm.decodeStep(cache, state, context - 1, { kind: 'greedy' });
    };
    await step(0); // warm-up: pipelines and bind groups
    await profiler.reset();
    await step(1);
    const work = `decode step, 7B-shaped q4 model, context ${context}, ${act}`;
    const kernels = await profiler.collect();
    console.log(`\n${formatKernelTimes(work, kernels)}`);
    return { work, kernels };
  } finally {
    state.release();
    cache.destroy();
    m.dispose();
    gpu.destroy();
  }
}
