// The decode hot path: once warm, one token costs exactly one queue submit, one 4-byte readback and no new GPU
// objects (buffers, bind groups, pipelines) — everything is created once and reused.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { openCheckpointDir } from '../../src/platform/node-file.js';
import { VilavtModel } from '../../src/model/vilavt-model.js';
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
});
