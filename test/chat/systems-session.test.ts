// DeepEyes and Pixel-Reasoner through ChatSession on the demo's PLAIN qwen2_5_vl checkpoint (tiny random weights,
// the real Qwen2.5 tokenizer): the session's prompts are the drivers' own, every image is encoded once, a re-sent
// prompt (DeepEyes drops a response without tool call or answer) prefills only its last token, an appended turn only
// its new tokens, and the answers come out by each system's rule.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeepEyesDriver } from '../../src/chat/deepeyes.js';
import { PixelReasonerDriver } from '../../src/chat/pixelreasoner.js';
import { ChatSession } from '../../src/chat/session.js';
import { VilavtModel } from '../../src/model/vilavt-model.js';
import type { DecodedImage } from '../../src/preprocess/image.js';
import type { Gpu } from '../../src/runtime/device.js';
import { expandImagePads } from '../../src/text/image-pads.js';
import type { TextAssets } from '../../src/text/tokenizer-files.js';
import { ChatTemplate, QWEN25_VL_CHAT_TEMPLATE } from '../../src/text/chat-template.js';
import { collect, turns } from '../helpers/chat-events.js';
import { loadDemoModel } from '../helpers/demo-model.js';

type Replay = { question: string; assistant_turns: string[] };

let gpu: Gpu;
let model: VilavtModel;
let text: TextAssets;
let sample: DecodedImage;
let dir: string;
const sessions: ChatSession[] = [];

const readReplay = async (name: string): Promise<Replay> => JSON.parse(await readFile(join(dir, name), 'utf8'));
function session(chatTemplate?: ChatTemplate): ChatSession {
  // No inquiry tokenizer: the plain systems never encode one.
  const s = new ChatSession({ gpu, model, tokenizer: text.tokenizer, contextLength: 8192, chatTemplate });
  sessions.push(s);
  return s;
}
const ids = (prompt: string, pads: readonly number[]) => expandImagePads(text.tokenizer.encode(prompt), text.tokenizer.specialIds.imagePad, pads);

beforeAll(async () => {
  ({ dir, gpu, model, text, sample } = await loadDemoModel('plain-checkpoint'));
  expect(model.textEncoder).toBeNull();
}, 180_000);

afterAll(() => {
  for (const s of sessions) s.close();
  model?.destroy();
});

describe('plain Qwen2.5-VL systems through ChatSession', () => {
  it('DeepEyes: driver prompts, a dropped response re-sends the prompt (1 token prefilled), zoom, answer', async () => {
    const r = await readReplay('replay-deepeyes.json');
    const plain = 'Let me think about the picture.';
    const replay = [plain, ...r.assistant_turns];
    const ev = await collect(session().ask({ system: 'deepeyes', images: [{ image: sample, name: 'sample.png' }], question: r.question, options: ['circle', 'square'], replay }));

    const driver = new DeepEyesDriver({ images: [{ image: sample, name: 'sample.png' }], question: r.question, options: ['circle', 'square'] });
    const calls = [];
    for (let c = driver.nextCall(); c; c = driver.nextCall()) {
      calls.push(c);
      driver.acceptResponse(replay[c.call]!);
    }
    const t = turns(ev);
    expect(calls).toHaveLength(3);
    expect(t.map((x) => x.prompt)).toEqual(calls.map((c) => c.prompt));
    expect(calls[1]!.prompt).toBe(calls[0]!.prompt); // the plain response was not appended
    expect(t.map((x) => x.prompt_tokens)).toEqual(calls.map((c) => ids(c.prompt, c.images.map((im) => im.padTokens)).length));
    // Call 2 re-sends call 1's prompt: everything but the last row (recomputed for its logits) is reused.
    expect(t[1]!.reused_tokens).toBe(t[1]!.prompt_tokens - 1);
    expect(t[1]!.vision_tokens_encoded).toBe(0);
    // Call 3 appends the zoom turn: the cache held call 2's prompt + its replayed response; only the rest is new.
    const before = ids(calls[1]!.prompt, calls[1]!.images.map((im) => im.padTokens));
    const withResponse = [...before, ...text.tokenizer.encode(replay[1]!)];
    const now = ids(calls[2]!.prompt, calls[2]!.images.map((im) => im.padTokens));
    let common = 0;
    while (common < withResponse.length && withResponse[common] === now[common]) common++;
    expect(t[2]!.reused_tokens).toBe(common);
    expect(t[2]!.vision_tokens_encoded).toBe(calls[2]!.images[1]!.padTokens);
    const region = ev.find((e) => e.type === 'region');
    expect(region).toMatchObject({ source_index: 0, image_index: 1, original: 'sample.png', crop_box: [443, 184, 597, 278] });
    expect(ev.at(-1)).toEqual({ type: 'done', answer: 'circle', rounds: 3, stop_reason: 'answer', system: 'deepeyes' });
  }, 240_000);

  it('Pixel-Reasoner: driver prompts, crop of a crop, each image encoded once, \\boxed answer', async () => {
    const r = await readReplay('replay-pixelreasoner.json');
    const ev = await collect(session().ask({ system: 'pixelreasoner', images: [{ image: sample, name: 'sample.png' }], question: r.question, replay: r.assistant_turns }));
    const driver = new PixelReasonerDriver({ images: [{ image: sample, name: 'sample.png' }], question: r.question });
    const calls = [];
    for (let c = driver.nextCall(); c; c = driver.nextCall()) {
      calls.push(c);
      driver.acceptResponse({ text: r.assistant_turns[c.call]!, finishReason: 'stop', stopReason: null, totalTokens: 0 });
    }
    const t = turns(ev);
    expect(t.map((x) => x.prompt)).toEqual(calls.map((c) => c.prompt));
    expect(t.map((x) => x.vision_tokens_encoded)).toEqual(calls.map((c, i) => (i === 0 ? c.images[0]!.padTokens : c.images.at(-1)!.padTokens)));
    for (const x of t.slice(1)) expect(x.prefill_tokens).toBeLessThan(x.prompt_tokens / 2);
    const regions = ev.filter((e) => e.type === 'region');
    expect(regions.map((e) => (e as { source_index: number }).source_index)).toEqual([0, 1]);
    expect(ev.at(-1)).toEqual({ type: 'done', answer: 'circle', rounds: 3, stop_reason: 'no_tool_call', system: 'pixelreasoner' });
  }, 240_000);

  it("renders every prompt with the checkpoint's own chat template (here: user turns marked `human`)", async () => {
    const own = new ChatTemplate(QWEN25_VL_CHAT_TEMPLATE.replace("<|im_start|>{{ message['role'] }}\n",
      "<|im_start|>{{ 'human' if message['role'] == 'user' else message['role'] }}\n"), 'chat_template.json');
    const r = await readReplay('replay-deepeyes.json');
    const q = { images: [{ image: sample, name: 'sample.png' }], question: r.question, options: ['circle', 'square'] };
    const ev = await collect(session(own).ask({ system: 'deepeyes', ...q, replay: r.assistant_turns }));
    const stock = new DeepEyesDriver(q);
    const calls = [];
    for (let c = stock.nextCall(); c; c = stock.nextCall()) {
      calls.push(c);
      stock.acceptResponse(r.assistant_turns[c.call]!);
    }
    const t = turns(ev);
    expect(t).toHaveLength(calls.length);
    for (const [k, c] of calls.entries()) {
      const expected = c.prompt.replaceAll('<|im_start|>user\n', '<|im_start|>human\n');
      expect(expected).not.toBe(c.prompt);
      expect(t[k]!.prompt).toBe(expected);
      expect(t[k]!.prompt_tokens).toBe(ids(expected, c.images.map((im) => im.padTokens)).length);
    }
  }, 240_000);

  it('refuses ViLaVT-only conversation features and a ViLaVT query without an inquiry tokenizer', async () => {
    const s = session();
    await expect(collect(s.ask({ system: 'deepeyes', images: [{ image: sample, name: 'sample.png' }], question: 'q', followUp: true }))).rejects.toThrow(/ViLaVT conversation features/);
  });
});
