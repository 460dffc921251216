// ViLaVT's model turns: `<tool>{json}</tool>` calls (region list + query), `<answer>…</answer>` read as JSON then
// as a Python literal, and text with neither; fed to parseToolCall / validateToolCall / extractAnswer and then to
// the driver's respond() on a tiny image (crops rendered with a small pixel budget so each input stays cheap).
import { ChatError } from '../../../src/chat/errors.js';
import { ChatDriver, extractAnswer } from '../../../src/chat/driver.js';
import { pyToJson } from '../../../src/chat/py-json.js';
import { parseToolCall, validateToolCall } from '../../../src/chat/tool-call.js';
import type { DecodedImage } from '../../../src/preprocess/image.js';
import { mulberry32 } from '../../../src/util/random.js';
import { bbox, jsonValue, pyValue, thinking } from '../grammar.js';
import { mutateText } from '../mutate.js';
import type { Fuzzer } from '../runner.js';
import type { Rng } from '../rng.js';

/** A small RGB image with seeded random pixels. */
export function tinyImage(width: number, height: number, seed: number): DecodedImage {
  const next = mulberry32(seed);
  return { width, height, channels: 3, data: Uint8Array.from({ length: width * height * 3 }, () => Math.floor(next() * 256)) };
}

const KEYS = ['region', 'query', 'index', 'bbox_2d', 'label', 'name', 'arguments'];
export const TURN_TOKENS = ['<tool>', '</tool>', '<answer>', '</answer>', '<think>', '</think>', '<tool_call>', '</tool_call>', '{', '}', '[', ']',
  '(', ')', '"', "'", ':', ',', '\\', '\n', '"region"', '"query"', '"index"', '"bbox_2d"', '<|im_end|>', '<|endoftext|>', '\\boxed{', 'None'];

const W = 64;
const H = 48;

function vilavtTurn(rng: Rng): string {
  const r = rng.int(4);
  if (r <= 1) {
    const regions = Array.from({ length: rng.skewed(4) }, () => {
      const parts = [`"index": ${rng.chance(0.85) ? rng.int(2) : jsonValue(rng, KEYS)}`, `"bbox_2d": ${bbox(rng, W, H)}`];
      if (rng.chance(0.1)) parts.pop();
      return `{${parts.join(', ')}}`;
    });
    const query = rng.chance(0.9) ? JSON.stringify(`the ${rng.pick(['sign', 'tree', 'cat'])}`) : jsonValue(rng, KEYS);
    return `${thinking(rng)}<tool>{"region": [${regions.join(', ')}], "query": ${query}}</tool>`;
  }
  if (r === 2) return `${thinking(rng)}<answer>${rng.chance(0.5) ? jsonValue(rng, KEYS) : pyValue(rng, KEYS)}</answer>`;
  return `${thinking(rng)}<answer>${rng.pick(['A', 'B. cat', '42', ' yes '])}</answer>`;
}

export const toolCallFuzzer: Fuzzer = {
  name: 'tool-call',
  description: 'ViLaVT turns (<tool> JSON calls, <answer> JSON / Python literals): parseToolCall, validateToolCall, extractAnswer, ChatDriver.respond',
  expected: [ChatError],
  async create() {
    const images = [{ image: tinyImage(W, H, 1), name: 'a.png' }, { image: tinyImage(H, W, 2), name: 'b.png' }];
    const sizes = images.map((i) => ({ width: i.image.width, height: i.image.height }));
    return {
      generate(rng) {
        let text = vilavtTurn(rng);
        for (let k = rng.int(4); k > 0; k--) text = mutateText(rng, text, TURN_TOKENS);
        return text;
      },
      run(input) {
        const text = input as string;
        extractAnswer(text);
        const p = parseToolCall(text);
        if (p.kind === 'parsed') {
          pyToJson(p.args);
          validateToolCall(p.args, sizes);
        }
        const driver = new ChatDriver({
          images, question: 'What is on the sign?', problemType: 'free-form', options: null,
          settings: { budget: 4 * 3136, minPixels: 3136 },
        });
        driver.nextCall();
        driver.respond({ text, finishReason: 'stop', stopReason: null });
        if (driver.nextCall() === null) driver.result(); // the final answer read from the turn

      },
    };
  },
};
