// Issue 11, defect 2: NaN / infinite values must not pass silently. 1-D parameters are checked at load; anything
// else that makes the logits non-finite is flagged by the sampler in the one word each step reads back, and
// becomes NonFiniteError naming the step.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Checkpoint } from '../../src/model/checkpoint.js';
import { CheckpointError } from '../../src/model/errors.js';
import { MropePositions } from '../../src/model/mrope.js';
import { VilavtModel } from '../../src/model/vilavt-model.js';
import { openCheckpointDir } from '../../src/platform/node-file.js';
import { NonFiniteError } from '../../src/runtime/errors.js';
import { CORE, getGpu } from '../helpers/gpu.js';

const DIR = join(import.meta.dirname, '../fixtures/golden/tiny-a/checkpoint');
const BF16_NAN = 0x7fc0;

/** The tiny-a checkpoint with bf16 elements of one tensor replaced (or f32 elements when `f32`). */
async function poisoned(tensor: string, elements: number[], bits: number): Promise<Checkpoint> {
  const ckpt = await openCheckpointDir(DIR);
  const read = ckpt.read.bind(ckpt);
  ckpt.read = async (name: string) => {
    const raw = await read(name);
    if (name !== tensor) return raw;
    const copy = raw.slice();
    const view = new DataView(copy.buffer);
    for (const e of elements) view.setUint16(e * 2, bits, true);
    return copy;
  };
  return ckpt;
}

describe('non-finite values', () => {
  it('a NaN in a 1-D parameter is refused at load, naming the tensor and element', async () => {
    const gpu = await getGpu(CORE);
    const ckpt = await poisoned('model.norm.weight', [3], BF16_NAN);
    const err = await VilavtModel.load(gpu, ckpt).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as Error).message).toMatch(/model\.norm\.weight: element 3 is NaN: a 1-D parameter must be finite/);
  });

  it('NaN logits in the prefill and in a decode step are typed errors naming the step', async () => {
    const gpu = await getGpu(CORE);
    // Embedding row 200 is NaN: any step that embeds token 200 gets NaN hidden states, hence NaN logits.
    const ckpt = await poisoned('model.embed_tokens.weight', Array.from({ length: 64 }, (_, i) => 200 * 64 + i), BF16_NAN);
    const model = await VilavtModel.load(gpu, ckpt);
    const cfg = model.config.llm;
    const pos = new MropePositions({ imagePad: cfg.imageTokenId, visionStart: cfg.visionStartTokenId });
    const cache = model.llm.newCache(64);
    const state = model.llm.decodeState();
    try {
      // Greedy here; the top-p path sets the same flag (test/kernels/sample.test.ts).
      for (const sampling of [{ kind: 'greedy' as const }]) {
        cache.truncate(0);
        const bad = [5, 6, 200, 7];
        await expect(model.llm.prefillAndSample(cache, bad, pos.append(bad), null, state, sampling)).rejects.toThrow(
          new NonFiniteError('the prefill of 4 tokens'));
        cache.truncate(0);
        const good = [5, 6, 7];
        const posGood = new MropePositions({ imagePad: cfg.imageTokenId, visionStart: cfg.visionStartTokenId });
        const first = await model.llm.prefillAndSample(cache, good, posGood.append(good), null, state, sampling);
        expect(first).toBeLessThan(cfg.vocab);
        state.setToken(200);
        const at = posGood.decodePosition(good.length);
        await expect(model.llm.decodeStep(cache, state, at, sampling)).rejects.toThrow(new NonFiniteError(`decode step at position ${at}`));
      }
    } finally {
      state.release();
      cache.destroy();
      model.destroy();
    }
  });
});
