// Capacity (issue 11): a conversation that fills the KV cache ends with a clear stop_reason ('context_full'), a prompt
// that cannot fit — text, image pads, a zoom's new visual tokens, a replayed response — is a ContextOverflowError
// before any GPU work, and the session stays usable after `truncate`. Demo checkpoint (tiny random weights, the real
// Qwen2.5 tokenizer); prompt lengths are computed independently from ChatDriver's prompts and the tokenizer.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatDriver } from '../../src/chat/driver.js';
import { CONTEXT_FULL, describeDone, type ChatEvent } from '../../src/chat/events.js';
import { ChatSession, type AskOptions } from '../../src/chat/session.js';
import { VilavtModel } from '../../src/model/vilavt-model.js';
import { openCheckpointDir } from '../../src/platform/node-file.js';
import { decodeImageFile } from '../../src/platform/node-image.js';
import { loadTokenizerDir } from '../../src/platform/node-tokenizer.js';
import type { DecodedImage } from '../../src/preprocess/image.js';
import type { Gpu } from '../../src/runtime/device.js';
import { ContextOverflowError } from '../../src/runtime/errors.js';
import type { TextAssets } from '../../src/text/tokenizer-files.js';
import { demoDir } from '../helpers/demo.js';
import { getGpu } from '../helpers/gpu.js';
import { callPromptIds, collect, tokenText, turns } from '../helpers/chat-events.js';

type Done = Extract<ChatEvent, { type: 'done' }>;

let gpu: Gpu;
let model: VilavtModel;
let text: TextAssets;
let sample: DecodedImage;
let replay: { question: string; assistant_turns: string[] };
/** Prompt ids of the demo trajectory's three calls (replayed responses) and the ids of the responses. */
let promptIds: number[][];
let responseIds: number[][];
/** `<|image_pad|>` tokens of the first zoom's crop. */
let cropPadTokens: number;
const sessions: ChatSession[] = [];

function session(contextLength: number): ChatSession {
  const s = new ChatSession({ gpu, model, tokenizer: text.tokenizer, inquiryTokenizer: text.inquiry, contextLength });
  sessions.push(s);
  return s;
}

const ask = (o: Partial<AskOptions> = {}): AskOptions => ({ images: [{ image: sample, name: 'sample.png' }], question: replay.question, ...o });
const sampled = (maxNewTokens: number): AskOptions => ask({ maxRounds: 2, maxNewTokens, sampling: { greedy: true } });

/** Counts GPU work (submits, buffer writes, buffer creations) done by `run` after it calls `mark`; returns its result or error. */
async function gpuWork<T>(run: (mark: () => void) => Promise<T>): Promise<{ result: T | unknown; since: number }> {
  const queue = gpu.device.queue as unknown as Record<string, (...a: unknown[]) => unknown>;
  const dev = gpu.device as unknown as Record<string, (...a: unknown[]) => unknown>;
  let count = 0;
  const restore: (() => void)[] = [];
  for (const [obj, name] of [[queue, 'submit'], [queue, 'writeBuffer'], [dev, 'createBuffer']] as const) {
    const orig = obj[name]!;
    obj[name] = function (this: unknown, ...a: unknown[]) { count++; return orig.apply(this, a); };
    restore.push(() => { obj[name] = orig; });
  }
  let base = 0;
  try {
    const result = await run(() => { base = count; }).catch((e: unknown) => e);
    return { result, since: count - base };
  } finally {
    for (const r of restore) r();
  }
}

beforeAll(async () => {
  const dir = await demoDir();
  gpu = await getGpu();
  text = await loadTokenizerDir(join(dir, 'checkpoint'));
  model = await VilavtModel.load(gpu, await openCheckpointDir(join(dir, 'checkpoint')), { activations: 'f32' });
  sample = await decodeImageFile(join(dir, 'sample.png'));
  replay = JSON.parse(await readFile(join(dir, 'replay.json'), 'utf8'));
  const driver = new ChatDriver({ images: [{ image: sample, name: 'sample.png' }], question: replay.question, problemType: 'free-form', options: null });
  promptIds = [];
  for (let c = driver.nextCall(); c; c = driver.nextCall()) {
    promptIds.push(callPromptIds(text.tokenizer, c));
    if (c.call === 1) cropPadTokens = c.images[1]!.padTokens;
    driver.acceptResponse({ text: replay.assistant_turns[c.call]!, finishReason: 'stop', stopReason: null });
  }
  responseIds = replay.assistant_turns.map((t) => text.tokenizer.encode(t));
}, 180_000);

afterAll(() => {
  for (const s of sessions) s.close();
  model?.destroy();
});

describe('KV cache capacity', () => {
  it('decode that fills the cache mid-answer ends with stop_reason context_full; truncate makes room again', async () => {
    const P = promptIds[0]!.length;
    const room = 5;
    const s = session(P + room);
    const ev = await collect(s.ask(sampled(1000)));
    const t = turns(ev)[0]!;
    expect(t.prompt_tokens).toBe(P);
    // The prefill samples one token, then each decode step feeds one: `room` steps fill the cache.
    expect(t.generated_tokens).toBe(room + 1);
    expect(t.finish_reason).toBe('length'); // vLLM's finish_reason at max_model_len (the server's "length")
    const done = ev.at(-1) as Done;
    expect(done).toMatchObject({ type: 'done', stop_reason: CONTEXT_FULL, rounds: 1 }); // 'length' ends the loop
    expect(describeDone(done)).toMatch(/context_full.*filled the context/);
    expect(s.cachedTokens).toBe(P + room);
    // What was generated up to the cap is what a session with room to spare generates.
    const wide = await collect(session(4096).ask(sampled(room + 1)));
    expect(tokenText(ev)).toBe(tokenText(wide));
    // Stopping at max tokens is not a full context.
    expect(wide.at(-1)).toMatchObject({ type: 'done', stop_reason: 'length' });

    // A follow-up cannot fit: refused before any GPU work, and the conversation is kept as it was.
    const follow = await gpuWork(async (mark) => { mark(); return collect(s.ask({ images: [], question: 'And then?', followUp: true, replay: ['<answer> x </answer>'] })); });
    expect(follow.result).toBeInstanceOf(ContextOverflowError);
    expect(follow.since).toBe(0);
    expect(s.hasConversation).toBe(true);

    // Truncate to a prefix: the next ask reuses exactly that prefix and answers as a fresh session does.
    s.truncate(P - 10);
    expect(s.cachedTokens).toBe(P - 10);
    expect(s.hasConversation).toBe(false);
    await expect(collect(s.ask({ images: [], question: 'And then?', followUp: true }))).rejects.toThrow(/no conversation/);
    const again = await collect(s.ask(sampled(3)));
    expect(turns(again)[0]).toMatchObject({ reused_tokens: P - 10, prefill_tokens: 10 });
    expect(tokenText(again)).toBe(tokenText(await collect(session(4096).ask(sampled(3)))));
    // Truncate to nothing.
    s.truncate();
    expect(s.cachedTokens).toBe(0);
    expect(turns(await collect(s.ask(sampled(2))))[0]).toMatchObject({ reused_tokens: 0, prefill_tokens: P });
    expect(() => s.truncate(s.cachedTokens + 1)).toThrow(/truncate/);
  });

  it('a prompt that cannot fit is a ContextOverflowError before any GPU work', async () => {
    const P = promptIds[0]!.length;
    const s = session(P - 1);
    const { result, since } = await gpuWork(async (mark) => { mark(); return collect(s.ask(sampled(4))); });
    expect(result).toBeInstanceOf(ContextOverflowError);
    expect(result).toMatchObject({ capacity: P - 1, requested: P });
    expect(since).toBe(0);
    expect(s.cachedTokens).toBe(0);
    // A replayed response is part of the input: prompt + response over the capacity fails up front too.
    const r = session(P + 3);
    const forced = await gpuWork(async (mark) => { mark(); return collect(r.ask(ask({ replay: replay.assistant_turns }))); });
    expect(forced.result).toBeInstanceOf(ContextOverflowError);
    expect(forced.result).toMatchObject({ capacity: P + 3, requested: P + responseIds[0]!.length });
    expect(forced.since).toBe(0);
    // The session stays usable: an ask that fits answers.
    const ok = await collect(r.ask(sampled(2)));
    expect(ok.at(-1)).toMatchObject({ type: 'done' });
  });

  it("a zoom whose visual tokens do not fit fails before encoding the crop; the session is usable after truncate", async () => {
    const held = promptIds[0]!.length + responseIds[0]!.length; // the first call and its replayed response
    const need = promptIds[1]!.length + responseIds[1]!.length; // the zoom call: tool response, crop pads, response
    const cropPads = cropPadTokens;
    // Without the crop's visual tokens the zoom call would fit; with them it does not.
    const capacity = need - cropPads + Math.floor(cropPads / 2);
    expect(capacity).toBeGreaterThan(held);
    const s = session(capacity);
    const seen: ChatEvent[] = [];
    const { result, since } = await gpuWork(async (mark) => {
      for await (const e of s.ask(ask({ replay: replay.assistant_turns }))) {
        seen.push(e);
        if (e.type === 'turn') mark(); // from here on: the zoom call
      }
    });
    expect(result).toBeInstanceOf(ContextOverflowError);
    expect(result).toMatchObject({ capacity, requested: need });
    expect(turns(seen)).toHaveLength(1); // the first call ran
    expect(seen.some((e) => e.type === 'region')).toBe(true); // the zoom was cut (CPU) ...
    expect(since).toBe(0); // ... and nothing of the zoom call reached the GPU
    expect(s.cachedTokens).toBe(held);
    s.truncate();
    const ok = await collect(s.ask(ask({ replay: replay.assistant_turns.slice(2) })));
    expect(ok.at(-1)).toMatchObject({ type: 'done', stop_reason: 'answer' });
  });
});
