// DeepEyes' model turns: the first `<tool_call>` body evaluated as a Python expression (pyEval), its bbox looked
// up and cut from the original image, and `<answer>` turns; fed to DeepEyesDriver.respond on a tiny image.
import { ChatError } from '../../../src/chat/errors.js';
import { DeepEyesDriver, deepEyesCropBox } from '../../../src/chat/deepeyes.js';
import { pyStrip } from '../../../src/py/whitespace.js';
import { bbox, jsonValue, pyValue, thinking } from '../grammar.js';
import { mutateText } from '../mutate.js';
import type { Fuzzer } from '../runner.js';
import type { Rng } from '../rng.js';
import { TURN_TOKENS, tinyImage } from './tool-call.js';

const KEYS = ['name', 'arguments', 'bbox_2d', 'label', 'image_zoom_in_tool'];
const W = 64;
const H = 48;
/**
 * Crops larger than this many pixels are parsed and checked but not cut: Pillow's bound (2 × 89,478,485 pixels)
 * lets a model ask for a crop of 178 M pixels, which the port, like the reference, then really cuts and resizes
 * (seconds of legitimate work, not a parser's). The parse and the checks run for every input.
 */
const MAX_CUT_PIXELS = 1 << 20;

function turn(rng: Rng): string {
  if (rng.chance(0.7)) {
    const args = `{"bbox_2d": ${bbox(rng, W, H, true)}${rng.chance(0.5) ? ', "label": "the cat"' : ''}}`;
    const call = rng.chance(0.85) ? `{"name": "image_zoom_in_tool", "arguments": ${args}}` : rng.chance(0.5) ? pyValue(rng, KEYS) : jsonValue(rng, KEYS);
    return `${thinking(rng)}<tool_call>\n${call}\n</tool_call>`;
  }
  return `${thinking(rng)}<answer>${rng.pick(['A', 'B', pyValue(rng, KEYS)])}</answer>`;
}

export const deepEyesCallFuzzer: Fuzzer = {
  name: 'deepeyes-call',
  description: 'DeepEyes turns (<tool_call> bodies read with Python eval, bbox crop checks): deepEyesCropBox, DeepEyesDriver.respond',
  expected: [ChatError],
  async create() {
    const image = tinyImage(W, H, 3);
    const settings = { serverMinPixels: 3136, serverMaxPixels: 4 * 3136, cropMinPixels: 3136, cropMaxPixels: 4 * 3136 };
    return {
      generate(rng) {
        let text = turn(rng);
        for (let k = rng.int(4); k > 0; k--) text = mutateText(rng, text, [...TURN_TOKENS, '**', '//', '-', '(', ')', 'j', '_']);
        return text;
      },
      run(input) {
        const text = input as string;
        if (text.includes('<tool_call>')) {
          const body = text.split('<tool_call>')[1]!.split('</tool_call>')[0]!;
          let box: readonly number[] | undefined;
          try {
            box = deepEyesCropBox(pyStrip(body)).box;
          } catch {
            // A body that does not parse or fails a check: respond() below meets the same error and handles it.
          }
          if (box && Math.abs(box[2]! - box[0]!) * Math.abs(box[3]! - box[1]!) > MAX_CUT_PIXELS) return;
        }
        const driver = new DeepEyesDriver({ images: [{ image, name: 'a.png' }], question: 'Which colour?', options: ['red', 'blue'] }, settings);
        driver.nextCall();
        driver.respond({ text });
        if (driver.nextCall() === null) driver.result(); // the final answer read from the turn

      },
    };
  },
};
