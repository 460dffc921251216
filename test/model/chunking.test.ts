// Bounded memory: the engine must give the same numbers when weights are split across several bindings and
// activations are processed in row chunks (forced by a small binding limit), and when the LLM prefill runs in
// small chunks against the KV cache (an image block split across chunks).
import type { Tensor } from '../../src/runtime/tensor.js';
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { openCheckpointDir, fileSource } from '../../src/platform/node-file.js';
import { openCheckpoint } from '../../src/model/checkpoint.js';
import { bytesSource } from '../../src/model/byte-source.js';
import { makeTinyCheckpoint, tinyADims } from '../../src/model/tiny-checkpoint.js';
import { SafetensorsFile } from '../../src/model/safetensors.js';
import { VilavtModel } from '../../src/model/vilavt-model.js';
import { MropePositions, mergedGridOf } from '../../src/model/mrope.js';
import { activationFrom } from '../../src/model/gpu-util.js';
import type { Gpu } from '../../src/runtime/device.js';
import { CORE, getGpu, relError } from '../helpers/gpu.js';
import { uniform } from '../helpers/random.js';

const DIR = join(import.meta.dirname, '../fixtures/golden/tiny-a');

async function prefillLogits(model: VilavtModel, gpu: Gpu, ids: number[], grid: [number, number, number], feats: Float32Array, chunk?: number) {
  const cfg = model.config.llm;
  const pos = new MropePositions({ imagePad: cfg.imageTokenId, visionStart: cfg.visionStartTokenId });
  const positions = pos.append(ids, [mergedGridOf(grid, 2)]);
  const cache = model.llm.newCache(ids.length);
  const f = activationFrom(gpu, feats, [feats.length / cfg.hidden, cfg.hidden], 'f32', 'features');
  const padRows = ids.flatMap((id, i) => (id === cfg.imageTokenId ? [i] : []));
  const logits = await model.llm.prefill(cache, ids, positions, { features: f, padRows }, { logits: 'all', chunk });
  f.release();
  cache.destroy();
  return logits!;
}

describe('chunked execution equals whole-tensor execution', () => {
  it('LLM prefill in chunks of 5 and 3 rows (image block split) equals one shot and the golden', async () => {
    const gpu = await getGpu(CORE);
    const model = await VilavtModel.load(gpu, await openCheckpointDir(join(DIR, 'checkpoint')));
    const d = await SafetensorsFile.open(await fileSource(join(DIR, 'd_prefill.safetensors')));
    const ids = await d.readInts('input_ids');
    const grid = (await d.readInts('image_grid_thw')) as [number, number, number];
    const feats = await d.readF32('image_features');
    const whole = await prefillLogits(model, gpu, ids, grid, feats);
    expect(relError(whole, await d.readF32('logits'))).toBeLessThan(1e-4);
    for (const c of [5, 3]) expect(relError(await prefillLogits(model, gpu, ids, grid, feats, c), whole)).toBeLessThan(1e-5);
    model.destroy();
  });

  it('split weights and row-chunked ViT activations under a 64 KiB binding limit', async () => {
    const dims = tinyADims();
    const { files } = makeTinyCheckpoint({
      ...dims, vocab: 600, seed: 7, dtype: 'bf16',
      vision: { ...dims.vision, intermediate: 512 },
    });
    const ckpt = await openCheckpoint(files.map((f) => ({ name: f.name, source: bytesSource(f.bytes, f.name) })));
    const small = await getGpu(CORE, { maxBindingBytes: 64 * 1024 });
    const big = await getGpu(CORE);
    const mSmall = await VilavtModel.load(small, ckpt);
    const mBig = await VilavtModel.load(big, ckpt);
    expect((mSmall.weights.llm.embed as Tensor).parts.length).toBeGreaterThan(1); // 600x64 bf16 = 75 KiB
    expect((mBig.weights.llm.embed as Tensor).parts.length).toBe(1);
    const grid: [number, number, number] = [1, 8, 12]; // 96 patches: pixels 441 KiB, MLP [96, 1024] f32 384 KiB
    const call = { images: [{ pixelValues: uniform(96 * 1176, 3, -2, 2), grid }], imageGroup: [0], inquiries: [null] };
    const a = await mSmall.vision.encode(call);
    const b = await mBig.vision.encode(call);
    expect(relError(await small.read(a), await big.read(b))).toBeLessThan(1e-6);
    a.release(); b.release();
    const c = mBig.config.llm;
    const ids = [1, 2, c.visionStartTokenId, ...Array(24).fill(c.imageTokenId), c.visionEndTokenId, 5, 6];
    const feats = uniform(24 * 64, 4);
    const ls = await prefillLogits(mSmall, small, ids, [1, 8, 12], feats);
    const lb = await prefillLogits(mBig, big, ids, [1, 8, 12], feats);
    expect(relError(ls, lb)).toBeLessThan(1e-6);
    mSmall.destroy(); mBig.destroy();
  });

  it('a vision call whose residual stream cannot be bound is a typed error naming the limit, not a crash', async () => {
    const gpu = await getGpu(CORE, { maxBindingBytes: 4096 });
    const model = await VilavtModel.load(gpu, await openCheckpointDir(join(DIR, 'checkpoint')));
    // 48 patches x 32 x f32 = 6144 bytes > 4096: at most 32 patches per call.
    const call = { images: [{ pixelValues: uniform(48 * 1176, 5), grid: [1, 6, 8] as [number, number, number] }], imageGroup: [0], inquiries: [null] };
    await expect(model.vision.encode(call)).rejects.toMatchObject({ code: 'image-too-large', message: expect.stringContaining('at most 32') });
    model.destroy();
  });
});
