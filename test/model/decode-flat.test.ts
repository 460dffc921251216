// Decode time per token stays flat in context length up to the cache's capacity: the cache is allocated once
// (no GPU buffer is created by steps at any length) and a step at the end of the cache costs about what one at
// its start does, because the step's cost is reading the weights once plus the keys and values it attends.
// Small shapes (a test must take seconds): 4.8 MB of 4-bit weights, 2 MB of f32 keys and values at 1024 tokens,
// so the roofline allows 1.2× (flops) to 1.4× (bytes) from 8 to 1024 keys; on lavapipe the ~20 dispatches' fixed
// cost dominates and the two measure within a few percent. Timing on a shared 2-core machine is noisy: short and
// long steps alternate (drift hits both), medians of 7 steps, and the bound is generous (2×).
import { describe, expect, it } from 'vitest';
import { CORE, getGpu } from '../helpers/gpu.js';
import type { LlmConfig } from '../../src/model/config.js';
import { LLM_7B } from '../../bench/decode.js';
import { randomQ4Llm } from '../../bench/random-llm.js';

const CFG: LlmConfig = { ...LLM_7B, hidden: 512, intermediate: 2048, layers: 2, heads: 8, kvHeads: 2, headDim: 64, vocab: 4096, mropeSection: [8, 12, 12] };
const CAPACITY = 1024;
const EMBED_ROWS = 64;

describe('decode time per token', () => {
  it('is flat in context length up to the cache capacity, with no allocation', async () => {
    const gpu = await getGpu(CORE);
    const m = randomQ4Llm(gpu, CFG, 'f32', { group: 64, embedRows: EMBED_ROWS });
    const cache = m.llm.newCache(CAPACITY);
    const state = m.llm.decodeState();
    const dev = gpu.device as unknown as { createBuffer: (...a: unknown[]) => unknown };
    const createBuffer = dev.createBuffer;
    let created = 0;
    try {
      const step = async (context: number, i: number): Promise<number> => {
        cache.truncate(0);
        cache.commit(context - 1);
        state.setToken(i % EMBED_ROWS);
        const t0 = performance.now();
        const { token } = await m.llm.decodeStep(cache, state, context - 1, { kind: 'greedy' });
        const ms = performance.now() - t0;
        expect(token).toBeLessThan(CFG.vocab);
        return ms;
      };
      await step(8, 0);
      await step(CAPACITY, 0); // warm: pipelines and bind groups of both split counts exist now
      dev.createBuffer = function (this: unknown, ...a: unknown[]) { created++; return createBuffer.apply(this, a); };
      const short: number[] = [];
      const long: number[] = [];
      for (let i = 1; i <= 7; i++) {
        short.push(await step(8, i));
        long.push(await step(CAPACITY, i));
      }
      const med = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!;
      const ratio = med(long) / med(short);
      console.log(`decode-flat: median ${med(short).toFixed(2)} ms at 8 keys, ${med(long).toFixed(2)} ms at ${CAPACITY}`);
      expect(created).toBe(0);
      expect(ratio, `median ms at ${CAPACITY} keys ${med(long).toFixed(2)} vs at 8 keys ${med(short).toFixed(2)}`).toBeLessThan(2);
    } finally {
      dev.createBuffer = createBuffer;
      state.release();
      cache.destroy();
      m.dispose();
    }
  }, 120_000);
});
