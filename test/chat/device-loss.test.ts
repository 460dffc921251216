// Issue 11, device loss: the GPU device is destroyed in the middle of an ask — while the vision encoder of a zoom
// call runs, while a prefill runs, while decoding — and the ask must end with DeviceLostError (not a hang, not
// another error, no unhandled rejection); a NEW Gpu and model created afterwards in the same process must then
// answer exactly as a reference run did before any loss. The ask is deterministic: two replayed turns with real
// zooms (vision + inquiry text encoder + prefill), then a greedy sampled call (decode). The device is destroyed
// right after the first queue submit of the chosen phase, so GPU work of that phase is in flight when it dies.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatEvent } from '../../src/chat/events.js';
import { ChatSession, type AskOptions } from '../../src/chat/session.js';
import { VilavtModel } from '../../src/model/vilavt-model.js';
import { openCheckpointDir } from '../../src/platform/node-file.js';
import { decodeImageFile } from '../../src/platform/node-image.js';
import { createNodeGpu } from '../../src/platform/node.js';
import { loadTokenizerDir } from '../../src/platform/node-tokenizer.js';
import type { DecodedImage } from '../../src/preprocess/image.js';
import type { Gpu } from '../../src/runtime/device.js';
import { DeviceLostError } from '../../src/runtime/errors.js';
import type { TextAssets } from '../../src/text/tokenizer-files.js';
import { demoDir } from '../helpers/demo.js';

/** An ask that outlives this after the loss counts as a hang. */
const HANG_MS = 60_000;

let dir: string;
let text: TextAssets;
let sample: DecodedImage;
let request: AskOptions;
let reference: unknown[];
/** Every Gpu stays strongly referenced (Dawn crashes when one is garbage-collected), lost or not. */
const gpus: Gpu[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (e: unknown) => { unhandled.push(e); };

async function fresh(): Promise<{ gpu: Gpu; model: VilavtModel; session: ChatSession }> {
  const gpu = await createNodeGpu();
  gpus.push(gpu);
  const model = await VilavtModel.load(gpu, await openCheckpointDir(join(dir, 'checkpoint')), { activations: 'f32' });
  const session = new ChatSession({ gpu, model, tokenizer: text.tokenizer, inquiryTokenizer: text.inquiry, contextLength: 4096 });
  return { gpu, model, session };
}

/** The events without wall-clock timings and pixel buffers (compared as data). */
async function answer(session: ChatSession): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const e of session.ask(request)) {
    out.push(e.type === 'turn' ? { ...e, timings: null, tokens_per_s: null } : e.type === 'region' ? { ...e, image: null } : e);
  }
  return out;
}

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  dir = await demoDir();
  text = await loadTokenizerDir(join(dir, 'checkpoint'));
  sample = await decodeImageFile(join(dir, 'sample.png'));
  const replay = JSON.parse(await readFile(join(dir, 'replay.json'), 'utf8')) as { question: string; assistant_turns: string[] };
  request = {
    images: [{ image: sample, name: 'sample.png' }], question: replay.question, replay: replay.assistant_turns.slice(0, 2),
    maxRounds: 3, maxNewTokens: 8, sampling: { greedy: true },
  };
  const ref = await fresh();
  reference = await answer(ref.session);
  ref.session.close();
  ref.model.destroy();
  ref.gpu.destroy();
  // The reference really went through every phase: two zooms (vision), prefills, and a sampled call (decode).
  expect(reference.filter((e) => (e as ChatEvent).type === 'region')).toHaveLength(2);
  expect(reference.filter((e) => (e as ChatEvent).type === 'turn').map((e) => (e as { replayed: boolean }).replayed)).toEqual([true, true, false]);
}, 300_000);

afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
});

/**
 * Destroy the device right after the first submit that follows the `nth` call (1-based) of `entry` on the model.
 * Returns how the ask ended.
 */
async function loseDuring(entry: 'vision' | 'prefill' | 'decode', nth: number): Promise<{ error: unknown; afterLossMs: number }> {
  const { gpu, model, session } = await fresh();
  const target = { vision: [model.vision, 'encode'], prefill: [model.llm, 'prefill'], decode: [model.llm, 'decodeStep'] }[entry] as [object, string];
  const [obj, name] = target as [Record<string, (...a: unknown[]) => unknown>, string];
  const orig = obj[name]!.bind(obj);
  let calls = 0;
  let armed = false;
  obj[name] = (...a: unknown[]) => {
    if (++calls === nth) armed = true;
    return orig(...a);
  };
  let lostAt = 0;
  const queue = gpu.device.queue as unknown as { submit: (b: GPUCommandBuffer[]) => void };
  const submit = queue.submit.bind(queue);
  queue.submit = (b) => {
    submit(b);
    if (armed) {
      armed = false;
      lostAt = performance.now();
      gpu.device.destroy();
    }
  };
  const outcome = answer(session).then(() => 'finished', (e: unknown) => e);
  const hang = new Promise((r) => setTimeout(() => r('hang'), HANG_MS).unref());
  const error = await Promise.race([outcome, hang]);
  const afterLossMs = performance.now() - lostAt;
  expect(lostAt, `the ask never reached call ${nth} of ${entry}`).toBeGreaterThan(0);
  // The session is not left busy: it closes, and the (dead) model's weights can be released.
  session.close();
  model.destroy();
  return { error, afterLossMs };
}

describe('device loss in the middle of an ask', () => {
  for (const [entry, nth, what] of [
    ['vision', 2, 'the vision encoder of the first zoom call'],
    ['prefill', 2, 'the prefill of the first zoom call'],
    ['decode', 3, 'the third decode step of the sampled call'],
  ] as const) {
    it(`during ${what}: DeviceLostError, then a new Gpu + model answers as before`, async () => {
      const { error, afterLossMs } = await loseDuring(entry, nth);
      expect(error, `the ask did not end within ${HANG_MS} ms of the loss`).not.toBe('hang');
      expect(error, 'the ask finished as if nothing happened').not.toBe('finished');
      expect(error).toBeInstanceOf(DeviceLostError);
      expect((error as DeviceLostError).code).toBe('device-lost');
      console.log(`device lost during ${entry}: DeviceLostError ${Math.round(afterLossMs)} ms after the loss`);

      const next = await fresh();
      try {
        expect(await answer(next.session)).toEqual(reference);
      } finally {
        next.session.close();
        next.model.destroy();
        next.gpu.destroy();
      }
      // Give stray promise rejections (error scopes, maps of the dead device) a turn to surface.
      await new Promise((r) => setTimeout(r, 50));
      expect(unhandled).toEqual([]);
    }, 300_000);
  }
});
