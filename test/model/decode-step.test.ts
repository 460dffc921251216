// The decode hot path: once warm, one token costs exactly one queue submit, one 4-byte readback and no new GPU
// objects (buffers, bind groups, pipelines) — everything is created once and reused.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { openCheckpointDir } from '../../src/platform/node-file.js';
import { VilavtModel } from '../../src/model/vilavt-model.js';
import { DECODE_DISPATCHES_PER_LAYER, LanguageModel } from '../../src/model/llm.js';
import { MropePositions } from '../../src/model/mrope.js';
import { CORE, getGpu } from '../helpers/gpu.js';

const DIR = join(import.meta.dirname, '../fixtures/golden/tiny-a');

describe('decode step', () => {
  it('is one submit with no GPU allocations once warm', async () => {
    const gpu = await getGpu(CORE);
    const model = await VilavtModel.load(gpu, await openCheckpointDir(join(DIR, 'checkpoint')));
    const cfg = model.config.llm;
    const ids = [301, 5, 6, 7, 302, 301, 8];
    const pos = new MropePositions({ imagePad: cfg.imageTokenId, visionStart: cfg.visionStartTokenId });
    const cache = model.llm.newCache(64);
    const state = model.llm.decodeState();
    await model.llm.prefillAndSample(cache, ids, pos.append(ids), null, state, { kind: 'greedy' });
    const step = (i: number) => model.llm.decodeStep(cache, state, pos.decodePosition(ids.length + i), { kind: 'greedy' });
    await step(0);
    await step(1); // warm: pipelines, bind groups and uniform slots exist now

    const counts = { submit: 0, createBuffer: 0, createBindGroup: 0, createComputePipeline: 0, createShaderModule: 0 };
    const dev = gpu.device as unknown as Record<string, (...a: unknown[]) => unknown>;
    const queue = gpu.device.queue as unknown as Record<string, (...a: unknown[]) => unknown>;
    const restore: (() => void)[] = [];
    const spy = (obj: Record<string, (...a: unknown[]) => unknown>, name: keyof typeof counts) => {
      const orig = obj[name]!;
      obj[name] = function (this: unknown, ...a: unknown[]) { counts[name]++; return orig.apply(this, a); };
      restore.push(() => { obj[name] = orig; });
    };
    spy(queue, 'submit');
    for (const n of ['createBuffer', 'createBindGroup', 'createComputePipeline', 'createShaderModule'] as const) spy(dev, n);
    try {
      const steps = 5;
      for (let i = 2; i < 2 + steps; i++) await step(i);
      expect(counts).toEqual({ submit: steps, createBuffer: 0, createBindGroup: 0, createComputePipeline: 0, createShaderModule: 0 });
    } finally {
      for (const r of restore) r();
      state.release();
      cache.destroy();
      model.destroy();
    }
  });

  it(`costs ${DECODE_DISPATCHES_PER_LAYER} dispatches per decoder layer (at most 8) plus a small constant`, async () => {
    const gpu = await getGpu(CORE);
    const model = await VilavtModel.load(gpu, await openCheckpointDir(join(DIR, 'checkpoint')));
    const full = model.llm;
    const cfg = full.cfg;
    const weights = full.w;
    // The same model cut to fewer layers: the difference in dispatches per step is the per-layer cost.
    const withLayers = (n: number) => new LanguageModel(gpu, { ...cfg, layers: n }, { ...weights, layers: weights.layers.slice(0, n) }, full.act);
    const dispatchesPerStep = async (llm: LanguageModel): Promise<number> => {
      const cache = llm.newCache(16);
      const state = llm.decodeState();
      const counts: number[] = [];
      const submit = state.rec.submit.bind(state.rec);
      state.rec.submit = () => { counts.push(state.rec.dispatches); submit(); };
      try {
        state.setToken(5);
        for (let i = 0; i < 3; i++) await llm.decodeStep(cache, state, i, { kind: 'greedy' });
      } finally {
        state.rec.submit = submit;
        state.release();
        cache.destroy();
      }
      expect(new Set(counts).size).toBe(1); // every step records the same sequence
      return counts[0]!;
    };
    try {
      const one = await dispatchesPerStep(withLayers(1));
      const two = await dispatchesPerStep(withLayers(2));
      const perLayer = two - one;
      expect(perLayer).toBe(DECODE_DISPATCHES_PER_LAYER);
      expect(perLayer).toBeLessThanOrEqual(8);
      // Per token besides the layers: embed, lm_head (one part here) with the final norm inside, sampling.
      expect(one - perLayer).toBeLessThanOrEqual(4);
    } finally {
      model.destroy();
    }
  });
});
