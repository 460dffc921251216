// KV reuse across turns (MODEL.md §7) on a generated tiny checkpoint: every multi-turn step served from the cache
// (reused prefix + decoded tokens + new prompt tokens with new images) must give the same logits as a full
// recompute of the whole sequence from an empty cache, and the prefix rule must stop at a changed image.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesSource } from '../../src/model/byte-source.js';
import { openCheckpoint } from '../../src/model/checkpoint.js';
import { defaultSpecialTokens, makeTinyCheckpoint, tinyADims } from '../../src/model/tiny-checkpoint.js';
import { VilavtModel } from '../../src/model/vilavt-model.js';
import type { ImageRows } from '../../src/model/llm.js';
import { patchify } from '../../src/preprocess/patchify.js';
import type { RgbImage } from '../../src/preprocess/image.js';
import type { Tensor } from '../../src/runtime/tensor.js';
import type { Gpu } from '../../src/runtime/device.js';
import { ContextCache, type ImageBlock } from '../../src/model/context-cache.js';
import { getGpu, relError } from '../helpers/gpu.js';
import { rng } from '../helpers/random.js';

const VOCAB = 320;
const SPECIAL = defaultSpecialTokens(VOCAB);
const PAD = SPECIAL['<|image_pad|>']!;
const VS = SPECIAL['<|vision_start|>']!;
const VE = SPECIAL['<|vision_end|>']!;
// f32 activations and weights: the incremental and the full pass differ only in summation order (attention over
// a cache filled in several prefills vs one), ~1e-6 relative; 1e-4 is the golden f32 logits tolerance.
const TOL = 1e-4;

let gpu: Gpu;
let model: VilavtModel;

function image(w: number, h: number, seed: number): RgbImage {
  const r = rng(seed);
  return { width: w, height: h, channels: 3, data: Uint8Array.from({ length: w * h * 3 }, () => Math.floor(r() * 256)) };
}

function text(n: number, seed: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => Math.floor(r() * 290)); // ordinary ids, below the special tokens
}

/** A block key: which image (the test's own numbering). */
type Key = string;

interface Img { key: Key; image: RgbImage; query: number[] }

/** Append `<|vision_start|> pads <|vision_end|>` for img to ids, recording its block. */
function addImage(ids: number[], blocks: ImageBlock<Key>[], img: Img): void {
  ids.push(VS);
  const grid: [number, number] = [img.image.height / 28, img.image.width / 28];
  blocks.push({ start: ids.length, grid, key: img.key });
  for (let i = 0; i < grid[0] * grid[1]; i++) ids.push(PAD);
  ids.push(VE);
}

/** Features of the images of `blocks` from index `from` on (each image its own group), concatenated. */
async function features(imgs: Map<Key, Img>, blocks: readonly ImageBlock<Key>[], keep: number): Promise<{ rows: ImageRows | null; release: () => void }> {
  const fresh = blocks.filter((b) => b.start >= keep);
  if (!fresh.length) return { rows: null, release: () => {} };
  const parts: Float32Array[] = [];
  for (const b of fresh) {
    const img = imgs.get(b.key)!;
    const inquiry = await model.encodeInquiry(img.query);
    const p = patchify(img.image);
    const f = await model.vision.encode({ images: [{ pixelValues: p.pixelValues, grid: p.gridThw }], imageGroup: [0], inquiries: [inquiry] });
    parts.push(await gpu.read(f));
    f.release();
    inquiry?.release();
  }
  const H = model.config.llm.hidden;
  const all = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { all.set(p, at); at += p.length; }
  const t: Tensor = gpu.tensor([all.length / H, H], 'f32', 'test.features');
  gpu.write(t, new Uint8Array(all.buffer));
  const padRows = fresh.flatMap((b) => Array.from({ length: b.grid[0] * b.grid[1] }, (_, i) => b.start - keep + i));
  return { rows: { features: t, padRows }, release: () => t.release() };
}

/** Logits of every row of ids[from..] computed from an empty cache over the whole sequence. */
async function fullRecompute(imgs: Map<Key, Img>, ids: number[], blocks: ImageBlock<Key>[], from: number): Promise<Float32Array> {
  const fresh = new ContextCache<Key>(model.llm, { capacity: ids.length + 4, imagePad: PAD, visionStart: VS, sameKey: (a, b) => a === b });
  try {
    const f = await features(imgs, blocks, 0);
    const plan = fresh.plan(ids, blocks);
    expect(plan.keep).toBe(0);
    const { logits } = await fresh.prefill(ids, blocks, plan, f.rows, { kind: 'logits', rows: 'all' });
    f.release();
    return logits!.subarray(from * VOCAB);
  } finally {
    fresh.destroy();
  }
}

beforeAll(async () => {
  gpu = await getGpu();
  const { files } = makeTinyCheckpoint({ ...tinyADims(), dtype: 'f32', seed: 11 });
  const ckpt = await openCheckpoint(files.map((f) => ({ name: f.name, source: bytesSource(f.bytes, f.name) })));
  model = await VilavtModel.load(gpu, ckpt, { activations: 'f32' });
});
afterAll(() => model?.destroy());

describe('ContextCache', () => {
  it('multi-turn incremental logits equal a full recompute; the prefix stops at a changed image', async () => {
    const imgs = new Map<Key, Img>([
      ['a', { key: 'a', image: image(84, 56, 1), query: [] }],
      ['b', { key: 'b', image: image(56, 56, 2), query: text(5, 3) }],
      ['b2', { key: 'b2', image: image(56, 56, 4), query: text(5, 3) }],
    ]);
    const ctx = new ContextCache<Key>(model.llm, { capacity: 256, imagePad: PAD, visionStart: VS, sameKey: (a, b) => a === b });
    const state = model.llm.decodeState();
    try {
      // Turn 1: text, image a, text; greedy first token, then 4 decode steps.
      const ids1 = text(7, 10);
      const blocks1: ImageBlock<Key>[] = [];
      addImage(ids1, blocks1, imgs.get('a')!);
      ids1.push(...text(9, 11));
      let plan = ctx.plan(ids1, blocks1);
      expect(plan).toEqual({ keep: 0, newBlocks: [0] });
      let f = await features(imgs, blocks1, 0);
      let token = (await ctx.prefill(ids1, blocks1, plan, f.rows, { kind: 'sample', state, sampling: { kind: 'greedy' } })).token!;
      f.release();
      const fed: number[] = [];
      for (let i = 0; i < 4; i++) {
        fed.push(token);
        token = await ctx.decodeStep(token, state, { kind: 'greedy' });
      }
      expect(ctx.cachedIds).toEqual([...ids1, ...fed]);

      // Turn 2: the decoded tokens come back as prompt text, then a tool response with image b.
      const ids2 = [...ids1, ...fed, ...text(6, 12)];
      const blocks2 = [...blocks1];
      addImage(ids2, blocks2, imgs.get('b')!);
      ids2.push(...text(8, 13));
      plan = ctx.plan(ids2, blocks2);
      expect(plan).toEqual({ keep: ids1.length + fed.length, newBlocks: [1] });
      f = await features(imgs, blocks2, plan.keep);
      const inc2 = (await ctx.prefill(ids2, blocks2, plan, f.rows, { kind: 'logits', rows: 'all' })).logits!;
      f.release();
      const full2 = await fullRecompute(imgs, ids2, blocks2, plan.keep);
      expect(inc2.length).toBe(full2.length);
      expect(relError(inc2, full2)).toBeLessThan(TOL);

      // Turn 3: same ids, but the second image is different pixels with the same grid: reuse stops at its pads.
      const blocks3 = blocks2.map((b, i) => (i === 1 ? { ...b, key: 'b2' } : b));
      const ids3 = [...ids2, ...text(5, 14)];
      plan = ctx.plan(ids3, blocks3);
      expect(plan).toEqual({ keep: blocks2[1]!.start, newBlocks: [1] });
      f = await features(imgs, blocks3, plan.keep);
      const inc3 = (await ctx.prefill(ids3, blocks3, plan, f.rows, { kind: 'logits', rows: 'all' })).logits!;
      f.release();
      expect(relError(inc3, await fullRecompute(imgs, ids3, blocks3, plan.keep))).toBeLessThan(TOL);

      // Turn 4: diverges inside turn 3's text (a re-tokenized response): truncate, keep positions, recompute the rest.
      const ids4 = [...ids3.slice(0, ids3.length - 3), ...text(4, 15)];
      plan = ctx.plan(ids4, blocks3);
      expect(plan.keep).toBe(ids3.length - 3);
      expect(plan.newBlocks).toEqual([]);
      const inc4 = (await ctx.prefill(ids4, blocks3, plan, null, { kind: 'logits', rows: 'all' })).logits!;
      expect(relError(inc4, await fullRecompute(imgs, ids4, blocks3, plan.keep))).toBeLessThan(TOL);
      expect(ctx.cachedIds).toEqual(ids4);
    } finally {
      state.release();
      ctx.destroy();
    }
  });

  it('a prompt larger than the cache is a ContextOverflowError and leaves the cache as it was', async () => {
    const ctx = new ContextCache<Key>(model.llm, { capacity: 16, imagePad: PAD, visionStart: VS, sameKey: (a, b) => a === b });
    try {
      const ids = text(10, 20);
      await ctx.prefill(ids, [], ctx.plan(ids, []), null, { kind: 'none' });
      const longer = [...ids, ...text(10, 21)];
      await expect(ctx.prefill(longer, [], ctx.plan(longer, []), null, { kind: 'none' })).rejects.toMatchObject({ code: 'context-overflow' });
      expect(ctx.cachedIds).toEqual(ids);
      // Still usable: a prompt that fits reuses the prefix.
      const next = [...ids, ...text(3, 22)];
      const plan = ctx.plan(next, []);
      expect(plan.keep).toBe(10);
      await ctx.prefill(next, [], plan, null, { kind: 'none' });
      expect(ctx.cachedIds).toEqual(next);
    } finally {
      ctx.destroy();
    }
  });
});
