// ChatSession on the demo checkpoint (tiny random weights, the real Qwen2.5 tokenizers): prompts identical to
// ChatDriver's, exact KV-reuse accounting per turn, replay (teacher forcing) with real tool execution, sampling
// after a partial replay, cancellation that leaves the cache consistent, reuse across questions, context overflow.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatDriver, type LlmCall } from '../../src/chat/driver.js';
import type { ChatEvent } from '../../src/chat/events.js';
import { ChatSession, type AskOptions } from '../../src/chat/session.js';
import { VilavtModel } from '../../src/model/vilavt-model.js';
import type { DecodedImage } from '../../src/preprocess/image.js';
import type { Gpu } from '../../src/runtime/device.js';
import type { TextAssets } from '../../src/text/tokenizer-files.js';
import { callPromptIds, collect, tokenText, turns } from '../helpers/chat-events.js';
import { loadDemoModel } from '../helpers/demo-model.js';

let gpu: Gpu;
let model: VilavtModel;
let text: TextAssets;
let sample: DecodedImage;
let replay: { question: string; assistant_turns: string[] };
const sessions: ChatSession[] = [];

function session(contextLength = 4096): ChatSession {
  const s = new ChatSession({ gpu, model, tokenizer: text.tokenizer, inquiryTokenizer: text.inquiry, contextLength });
  sessions.push(s);
  return s;
}

/** Prompt ids of an LLM call as the processor builds them. */
const promptIds = (call: LlmCall): number[] => callPromptIds(text.tokenizer, call);

const ask = (o: Partial<AskOptions> = {}): AskOptions => ({ images: [{ image: sample, name: 'sample.png' }], question: replay.question, ...o });

beforeAll(async () => {
  let dir: string;
  ({ dir, gpu, model, text, sample } = await loadDemoModel('checkpoint'));
  replay = JSON.parse(await readFile(join(dir, 'replay.json'), 'utf8'));
}, 180_000);

afterAll(() => {
  for (const s of sessions) s.close();
  model?.destroy();
});

describe('ChatSession', () => {
  it('replays a two-zoom trajectory: driver prompts, prefill of exactly the new tokens, vision only for new regions', async () => {
    const ev = await collect(session().ask(ask({ replay: replay.assistant_turns })));

    // The same replay through ChatDriver alone (what the golden runner does).
    const driver = new ChatDriver({ images: [{ image: sample, name: 'sample.png' }], question: replay.question, problemType: 'free-form', options: null });
    const calls: LlmCall[] = [];
    for (let c = driver.nextCall(); c; c = driver.nextCall()) {
      calls.push(c);
      driver.acceptResponse({ text: replay.assistant_turns[c.call]!, finishReason: 'stop', stopReason: null });
    }
    expect(calls).toHaveLength(3);
    const t = turns(ev);
    expect(t.map((x) => x.prompt)).toEqual(calls.map((c) => c.prompt));
    expect(t.every((x) => x.replayed && x.finish_reason === 'stop' && x.stop_reason === null)).toBe(true);

    const ids = calls.map(promptIds);
    expect(t[0]).toMatchObject({ prompt_tokens: ids[0]!.length, reused_tokens: 0, prefill_tokens: ids[0]!.length, vision_tokens_encoded: calls[0]!.images[0]!.padTokens });
    for (let i = 1; i < 3; i++) {
      // What the cache holds after call i-1: its prompt plus the teacher-forced response.
      const held = [...ids[i - 1]!, ...text.tokenizer.encode(replay.assistant_turns[i - 1]!)];
      expect(ids[i]!.slice(0, held.length)).toEqual(held);
      const newRegions = calls[i]!.newImages.map((k) => calls[i]!.images[k]!.padTokens);
      expect(newRegions).toHaveLength(1);
      expect(t[i]).toMatchObject({
        prompt_tokens: ids[i]!.length, reused_tokens: held.length, prefill_tokens: ids[i]!.length - held.length,
        vision_tokens_encoded: newRegions[0], groups_encoded: [i],
        generated_tokens: text.tokenizer.encode(replay.assistant_turns[i]!).length,
      });
    }

    // Tool calls ran for real: the regions are the driver's crops, pixels included.
    const regions = ev.filter((e): e is Extract<ChatEvent, { type: 'region' }> => e.type === 'region');
    expect(regions.map((r) => [r.call, r.source_index, r.image_index])).toEqual([[0, 0, 1], [1, 1, 2]]);
    for (const r of regions) {
      const im = calls[2]!.images[r.image_index!]!;
      expect(r.processed_size).toEqual([im.width, im.height]);
      expect(r.pad_tokens).toBe(im.padTokens);
      expect(r.image.data).toEqual(im.image.data);
    }
    expect(ev.filter((e) => e.type === 'tool_call').map((e) => (e as { query: string }).query))
      .toEqual(['the shapes on the sign board', 'the red shape at the left end of the sign']);
    expect(tokenText(ev, 0)).toBe(replay.assistant_turns[0]);
    expect(ev.at(-2)).toEqual({ type: 'answer', answer: 'circle' });
    expect(ev.at(-1)).toEqual({ type: 'done', answer: 'circle', rounds: 3, stop_reason: 'answer', system: 'vilavt' });
  });

  it('several sessions share one loaded model: concurrent conversations, separate caches, same results', async () => {
    const a = session();
    const b = session();
    const opts = ask({ sampling: { seed: 7, greedy: true }, replay: replay.assistant_turns.slice(0, 1), maxNewTokens: 6, maxRounds: 2 });
    const [ea, eb] = await Promise.all([collect(a.ask(opts)), collect(b.ask(opts))]);
    const view = (ev: ChatEvent[]) => ev.map((e) => (e.type === 'turn' ? { ...e, timings: null, tokens_per_s: null } : e.type === 'region' ? { ...e, image: null } : e));
    expect(view(ea)).toEqual(view(eb));
    expect(a.cachedTokens).toBe(b.cachedTokens);
    // Interleaving did not mix the caches: a third, solo run gives the same trajectory.
    expect(view(await collect(session().ask(opts)))).toEqual(view(ea));
  });

  it('samples after a partial replay, within max tokens; greedy and seeded top-p are reproducible', async () => {
    const s = session(); // later runs reuse the cached image and replayed turn: only sampling differs
    const run = async (sampling: AskOptions['sampling']) =>
      collect(s.ask(ask({ replay: replay.assistant_turns.slice(0, 1), maxRounds: 2, maxNewTokens: 6, sampling })));
    const g1 = await run({ greedy: true });
    const t = turns(g1);
    expect(t.map((x) => x.replayed)).toEqual([true, false]);
    expect(t[1]!.generated_tokens).toBeGreaterThan(0);
    expect(t[1]!.generated_tokens).toBeLessThanOrEqual(6);
    expect(t[1]!.reused_tokens).toBeGreaterThan(t[0]!.prompt_tokens);
    expect(g1.at(-1)).toMatchObject({ type: 'done', rounds: 2, stop_reason: 'budget' });
    expect(tokenText(await run({ greedy: true }), 1)).toBe(tokenText(g1, 1));
    const p1 = tokenText(await run({ seed: 1 }), 1);
    expect(tokenText(await run({ seed: 1 }), 1)).toBe(p1);
    expect(tokenText(await run({ seed: 2 }), 1)).not.toBe(p1);
  });

  it('cancellation stops decoding and leaves a consistent cache that the next question reuses', async () => {
    const s = session();
    const ac = new AbortController();
    const seen: ChatEvent[] = [];
    const reason = new Error('stop now');
    await expect((async () => {
      for await (const e of s.ask(ask({ maxRounds: 1, maxNewTokens: 40, sampling: { greedy: true }, signal: ac.signal }))) {
        seen.push(e);
        if (seen.filter((x) => x.type === 'token').length === 3) ac.abort(reason);
      }
    })()).rejects.toBe(reason);
    expect(seen.some((e) => e.type === 'turn')).toBe(false);

    // The same question again: everything but the prompt's last token comes from the cache, and the greedy
    // continuation equals a fresh session's (the rows decoded before the abort were rolled back correctly).
    const again = await collect(s.ask(ask({ maxRounds: 1, maxNewTokens: 8, sampling: { greedy: true } })));
    const t = turns(again)[0]!;
    expect(t.reused_tokens).toBe(t.prompt_tokens - 1);
    expect(t.prefill_tokens).toBe(1);
    expect(t.vision_tokens_encoded).toBe(0);
    const fresh = await collect(session().ask(ask({ maxRounds: 1, maxNewTokens: 8, sampling: { greedy: true } })));
    expect(tokenText(again, 0)).toBe(tokenText(fresh, 0));
    expect(tokenText(again, 0).startsWith(tokenText(seen, 0))).toBe(true);
  });

  it('reuses the cache across questions only while the image pixels are the same', async () => {
    const s = session();
    const answer = ['<answer> x </answer>'];
    const first = turns(await collect(s.ask(ask({ replay: answer }))))[0]!;
    expect(first.reused_tokens).toBe(0);
    // Same size, one pixel changed: the text before the image is reused, the image and everything after is not.
    const other: DecodedImage = { ...sample, data: sample.data.slice() };
    other.data[0] ^= 0xff;
    const driver = new ChatDriver({ images: [{ image: other, name: 'b.png' }], question: 'Another question?', problemType: 'free-form', options: null });
    const call = driver.nextCall()!;
    const ids = promptIds(call);
    const imageStart = ids.indexOf(text.tokenizer.specialIds.imagePad);
    const second = turns(await collect(s.ask({ images: [{ image: other, name: 'b.png' }], question: 'Another question?', replay: answer })))[0]!;
    expect(second.prompt).toBe(call.prompt);
    expect(second.reused_tokens).toBe(imageStart);
    expect(second.vision_tokens_encoded).toBe(call.images[0]!.padTokens);
    // Same pixels, another question: the image's tokens are reused, nothing is encoded.
    const third = turns(await collect(s.ask({ images: [{ image: other, name: 'b.png' }], question: 'A third one?', replay: answer })))[0]!;
    expect(third.reused_tokens).toBeGreaterThan(imageStart + call.images[0]!.padTokens);
    expect(third.vision_tokens_encoded).toBe(0);
  });

  it('follow-ups continue the conversation: the prompt extends the last one, only new tokens and new images are computed', async () => {
    const s = session();
    await expect(collect(s.ask(ask({ followUp: true, replay: ['<answer> x </answer>'] })))).rejects.toThrow(/no conversation/);
    const first = await collect(s.ask(ask({ replay: replay.assistant_turns })));
    const last = turns(first).at(-1)!;
    expect(s.hasConversation).toBe(true);

    // A follow-up with a new image: the chat template continues after the last assistant response.
    const other: DecodedImage = { ...sample, data: sample.data.slice() };
    other.data[5] ^= 0x55;
    const q2 = 'And what colour is the tree?';
    const ev2 = await collect(s.ask({ images: [{ image: other, name: 'other.png' }], question: q2, followUp: true, replay: ['<answer> green </answer>'] }));
    const t2 = turns(ev2);
    expect(t2.length).toBe(1);
    const newIndex = 3; // the sample and two zoom crops came before
    const newPads = (t2[0]!.prompt.match(/<\|image_pad\|>/g) ?? []).length;
    expect(newPads).toBe(4);
    const head = `${last.prompt}${replay.assistant_turns[2]}<|im_end|>\n<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>The index of the provided image is ${newIndex}.\n`;
    expect(t2[0]!.prompt.startsWith(head)).toBe(true);
    expect(t2[0]!.prompt).toContain(`# Question: ${q2}\n`);
    expect(t2[0]!.prompt.endsWith('<|im_end|>\n<|im_start|>assistant\n')).toBe(true);
    expect(t2[0]!.reused_tokens).toBe(last.prompt_tokens + last.generated_tokens);
    const newImageTokens = t2[0]!.vision_tokens_encoded;
    expect(newImageTokens).toBeGreaterThan(0);
    expect(newImageTokens).toBeLessThan(t2[0]!.prefill_tokens);
    expect(t2[0]!.groups_encoded).toEqual([3]); // groups 0..2: the sample and the two zoom calls
    expect(ev2.at(-1)).toMatchObject({ type: 'done', answer: 'green', rounds: 1 });

    // A stopped follow-up is dropped: the next one continues from the last completed message.
    const ac = new AbortController();
    await expect((async () => {
      for await (const e of s.ask({ images: [], question: 'Stopped question?', followUp: true, signal: ac.signal, maxNewTokens: 30, sampling: { greedy: true } })) {
        if (e.type === 'token') ac.abort(new Error('stop'));
      }
    })()).rejects.toThrow('stop');
    const ev3 = await collect(s.ask({ images: [], question: 'How many shapes?', followUp: true, replay: ['<answer> 3 </answer>'] }));
    const t3 = turns(ev3)[0]!;
    expect(t3.prompt.startsWith(`${t2[0]!.prompt}<answer> green </answer><|im_end|>\n<|im_start|>user\n`)).toBe(true);
    expect(t3.prompt).not.toContain('Stopped question?');
    // At least the completed conversation is reused (the stopped message's shared header may add a few tokens).
    expect(t3.reused_tokens).toBeGreaterThanOrEqual(t2[0]!.prompt_tokens + t2[0]!.generated_tokens);
    expect(t3.reused_tokens).toBeLessThan(t3.prompt_tokens - 20); // the new question is computed
    expect(t3.vision_tokens_encoded).toBe(0);
    expect(ev3.at(-1)).toMatchObject({ type: 'done', answer: '3', rounds: 1 });
  });

  it('a context that cannot hold the prompt is a typed error, and the session stays usable', async () => {
    const s = session(64);
    for (let i = 0; i < 2; i++) {
      await expect(collect(s.ask(ask({ replay: ['<answer> x </answer>'] })))).rejects.toMatchObject({ code: 'context-overflow' });
      expect(s.cachedTokens).toBe(0);
    }
  });
});
