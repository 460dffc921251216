// Issue 11, defect 5: Stop takes effect within 1 s at any point of an ask — vision encoder, prefill, decode — on
// this adapter, with a large image (the budget's 6.4 MP: ~8k visual tokens). Long GPU work is submitted in pieces
// with the AbortSignal checked between them; the test aborts shortly after each phase has started and times how
// long the ask takes to end.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatEvent } from '../../src/chat/events.js';
import { ChatSession } from '../../src/chat/session.js';
import { VilavtModel } from '../../src/model/vilavt-model.js';
import type { DecodedImage } from '../../src/preprocess/image.js';
import type { Gpu } from '../../src/runtime/device.js';
import type { TextAssets } from '../../src/text/tokenizer-files.js';
import { loadDemoModel } from '../helpers/demo-model.js';
import { rng } from '../helpers/random.js';
import { patchify } from '../../src/preprocess/patchify.js';

/** The latency the issue asks for. */
const STOP_WITHIN_MS = 1000;

let gpu: Gpu;
let model: VilavtModel;
let text: TextAssets;
let large: DecodedImage;
/** Resolvers for "phase X has started", set by wrappers around the model's entry points. */
const started = new Map<string, () => void>();

beforeAll(async () => {
  ({ gpu, model, text } = await loadDemoModel('checkpoint'));
  // 2800x2300 noise: shown at the whole 6.4 MP budget.
  const r = rng(7);
  const data = new Uint8Array(2800 * 2300 * 3);
  for (let i = 0; i < data.length; i++) data[i] = Math.floor(r() * 256);
  large = { width: 2800, height: 2300, channels: 3, data };
  const wrap = <T extends object>(obj: T, name: keyof T & string, phase: string) => {
    const orig = (obj[name] as (...a: unknown[]) => unknown).bind(obj);
    (obj as Record<string, unknown>)[name] = (...a: unknown[]) => {
      started.get(phase)?.();
      return orig(...a);
    };
  };
  wrap(model.vision, 'encode', 'vision');
  wrap(model.llm, 'prefill', 'prefill');
  wrap(model.llm, 'decodeStep', 'decode');
}, 180_000);

afterAll(() => model?.destroy());

/** Starts an ask, aborts `delayMs` after `phase` starts; returns how long the ask took to end after the abort. */
async function stopLatency(phase: string, delayMs: number, image: DecodedImage, question = 'q'): Promise<number> {
  const session = new ChatSession({ gpu, model, tokenizer: text.tokenizer, inquiryTokenizer: text.inquiry, contextLength: 12000 });
  const controller = new AbortController();
  const reached = new Promise<void>((resolve) => started.set(phase, resolve));
  const events: ChatEvent[] = [];
  const run = (async () => {
    for await (const e of session.ask({
      images: [{ image, name: 'image.png' }], question, maxRounds: 1, maxNewTokens: 100_000,
      sampling: { greedy: true }, signal: controller.signal,
    })) events.push(e);
  })();
  const outcome = run.then(() => 'finished', (e: unknown) => e);
  await Promise.race([reached, outcome]);
  started.delete(phase);
  await new Promise((r) => setTimeout(r, delayMs));
  const t0 = performance.now();
  controller.abort();
  const result = await outcome;
  const latency = performance.now() - t0;
  expect(result, `${phase}: the ask ended by itself before the abort`).not.toBe('finished');
  expect((result as Error).name).toBe('AbortError');
  session.close(); // usable state: close works (not busy), and a new session can run
  return latency;
}

describe('cancellation', () => {
  it(`stops within ${STOP_WITHIN_MS} ms during vision encoding, prefill and decoding`, async () => {
    // Pipelines compile on first use (lavapipe: seconds, not interruptible): one short ask first.
    const small: DecodedImage = { width: 224, height: 168, channels: 3, data: large.data.subarray(0, 224 * 168 * 3) };
    const warm = new ChatSession({ gpu, model, tokenizer: text.tokenizer, inquiryTokenizer: text.inquiry, contextLength: 12000 });
    for await (const e of warm.ask({ images: [{ image: small, name: 's.png' }], question: 'q', maxRounds: 1, maxNewTokens: 2 })) void e;
    warm.close();
    const latencies: Record<string, number> = {};
    // The large image: ~8k visual tokens, minutes of vision work on this adapter.
    latencies.vision = await stopLatency('vision', 300, large);
    // A long prompt (~6k tokens) keeps the prefill busy; the decode runs until stopped (random weights).
    latencies.prefill = await stopLatency('prefill', 100, small, 'word '.repeat(6000));
    latencies.decode = await stopLatency('decode', 200, small);
    console.log(`stop latency (ms): ${JSON.stringify(Object.fromEntries(Object.entries(latencies).map(([k, v]) => [k, Math.round(v)])))}`);
    for (const [phase, ms] of Object.entries(latencies)) expect(ms, phase).toBeLessThan(STOP_WITHIN_MS);
  }, 600_000);

  it('a cancellable vision call (attention in pieces, one submit each) gives bit-identical features', async () => {
    // 644x476: 1564 patches, so full attention is split into more than one piece.
    const img = { width: 644, height: 476, channels: 3 as const, data: large.data.subarray(0, 644 * 476 * 3) };
    const v = model.config.vision;
    const p = patchify(img, { patchSize: v.patchSize, mergeSize: v.mergeSize, temporalPatchSize: v.temporalPatchSize });
    const call = { images: [{ pixelValues: p.pixelValues, grid: p.gridThw }], imageGroup: [0], inquiries: [null] };
    const syncs = gpu.sync.bind(gpu);
    let pieces = 0;
    gpu.sync = async () => { pieces++; return syncs(); };
    let whole, split;
    try {
      const a = await model.vision.encode(call);
      whole = await gpu.read(a);
      a.release();
      const before = pieces;
      const b = await model.vision.encode({ ...call, signal: new AbortController().signal });
      split = await gpu.read(b);
      b.release();
      expect(pieces - before).toBeGreaterThan(v.depth + 1); // more pieces than blocks + patch embed
    } finally {
      gpu.sync = syncs;
    }
    expect(split).toEqual(whole);
  }, 300_000);
});
