// Soak, short version (issue 11; the long one is `npm run soak`, figures in docs/RELIABILITY.md): 8 asks in one
// session and 8 sessions of one ask on one loaded model — each ask two replayed zoom calls and a sampled call, on
// the demo picture with one pixel changed, so every ask encodes the same vision tokens again. After two asks
// (warm-up: pipelines, pool buckets, decode scratch, the first prompt served partly from the cache) the GPU memory the engine holds — live buffers, their bytes,
// the pool's in-use and cached bytes — must be exactly the same after every ask and after every closed session,
// and an ask must not get slower (median wall and CPU time of the last asks against the first ones after warm-up,
// within 2×: the machine is shared and timing is noisy; a leak that grows work per ask grows it without bound).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VilavtModel } from '../../src/model/vilavt-model.js';
import { openCheckpointDir } from '../../src/platform/node-file.js';
import { decodeImageFile } from '../../src/platform/node-image.js';
import { createNodeGpu } from '../../src/platform/node.js';
import { loadTokenizerDir } from '../../src/platform/node-tokenizer.js';
import type { Gpu } from '../../src/runtime/device.js';
import { formatSoak, memoryDrift, runSoak, timeGrowth, type SoakInputs } from '../../scripts/soak.js';
import { demoDir } from '../helpers/demo.js';

const N = 8;

let gpu: Gpu;
let inputs: SoakInputs;

beforeAll(async () => {
  const dir = await demoDir();
  gpu = await createNodeGpu({ disable: { f16: true, subgroups: true } }); // its own device: nothing else in its pool
  const model = await VilavtModel.load(gpu, await openCheckpointDir(join(dir, 'checkpoint')), { activations: 'f32' });
  inputs = {
    gpu, model, text: await loadTokenizerDir(join(dir, 'checkpoint')), image: await decodeImageFile(join(dir, 'sample.png')),
    replay: JSON.parse(await readFile(join(dir, 'replay.json'), 'utf8')),
  };
}, 300_000);

afterAll(() => {
  inputs?.model.destroy();
  gpu?.destroy();
});

describe('soak', () => {
  it(`${N} asks in one session and ${N} sessions on one model: memory exactly flat after warm-up, no slowdown`, async () => {
    // Every GPU buffer the asks create must be counted by memoryStats (nothing bypasses Gpu.createBuffer).
    const dev = gpu.device as unknown as { createBuffer: (...a: unknown[]) => unknown };
    const createBuffer = dev.createBuffer;
    let created = 0;
    dev.createBuffer = function (this: unknown, ...a: unknown[]) { created++; return createBuffer.apply(this, a); };
    const before = gpu.memoryStats();
    let report;
    try {
      report = await runSoak(inputs, { asks: N, sessions: N });
    } finally {
      dev.createBuffer = createBuffer;
    }
    console.log(formatSoak(report));
    expect(gpu.memoryStats().buffersCreated - before.buffersCreated).toBe(created);

    for (const phase of [report.asks, report.sessions]) {
      expect(phase.visionTokens[0]).toBeGreaterThan(0);
      expect(new Set(phase.visionTokens).size).toBe(1); // the same full work every ask
      // Warm-up is two asks: the second is the first whose prompt shares its text head with a cached one.
      expect(memoryDrift(phase.memory, 1)).toEqual([]);
      const k = Math.floor((N - 2) / 3);
      // Wall and CPU time both grow with a leak that adds work; noise from other processes rarely moves both.
      const g = timeGrowth(phase.ms.slice(2), k);
      const c = timeGrowth(phase.cpuMs.slice(2), k);
      expect(Math.min(g.ratio, c.ratio), `median ms of the first ${k} asks after warm-up ${g.first.toFixed(0)} (CPU ${c.first.toFixed(0)}), ` +
        `of the last ${k} ${g.last.toFixed(0)} (CPU ${c.last.toFixed(0)})`).toBeLessThan(2);
    }
    // A closed session leaves nothing in use but the per-device decode scratch it shares with every session.
    const closed = report.sessions.memory.at(-1)!;
    expect(closed.poolInUseBytes).toBeLessThan(report.asks.memory.at(-1)!.poolInUseBytes);
    expect(closed.poolInUseBytes - before.poolInUseBytes).toBeLessThanOrEqual(64 * 1024);
  }, 600_000);
});
