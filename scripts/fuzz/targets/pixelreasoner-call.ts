// Pixel-Reasoner's model turns: a response ending in `</tool_call>` whose body is read with json.loads and run as
// crop_image_normalized / select_frames (target_image, bbox_2d normalized or in pixels), and `\boxed{}` answers;
// fed to PixelReasonerDriver.respond (small pixel settings so each input stays cheap; the parse is the same).
import { ChatError } from '../../../src/chat/errors.js';
import { PixelReasonerDriver, lastBoxed } from '../../../src/chat/pixelreasoner.js';
import { bbox, jsonValue, thinking } from '../grammar.js';
import { mutateText } from '../mutate.js';
import type { Fuzzer } from '../runner.js';
import type { Rng } from '../rng.js';
import { TURN_TOKENS, tinyImage } from './tool-call.js';

const KEYS = ['name', 'arguments', 'target_image', 'bbox_2d', 'crop_image_normalized', 'select_frames', 'target_frames'];
const W = 64;
const H = 48;

function turn(rng: Rng): string {
  if (rng.chance(0.7)) {
    const target = rng.chance(0.8) ? String(rng.range(0, 3)) : jsonValue(rng, KEYS);
    const box = rng.chance(0.5) ? `[${[0, 1, 2, 3].map(() => (rng.float() * 1.2 - 0.1).toFixed(2)).join(', ')}]` : bbox(rng, W, H);
    const name = rng.chance(0.85) ? 'crop_image_normalized' : rng.pick(['select_frames', 'zoom', '']);
    const call = rng.chance(0.9) ? `{"name": "${name}", "arguments": {"target_image": ${target}, "bbox_2d": ${box}}}` : jsonValue(rng, KEYS);
    return `${thinking(rng)}<tool_call>\n${call}\n</tool_call>`;
  }
  return `${thinking(rng)}The answer is \\boxed{${rng.pick(['A', '{x}', '\\frac{1}{2}', '}'])}}.`;
}

export const pixelReasonerCallFuzzer: Fuzzer = {
  name: 'pixelreasoner-call',
  description: 'Pixel-Reasoner turns (<tool_call> JSON run as crop_image_normalized, \\boxed{} answers): PixelReasonerDriver.respond, lastBoxed',
  expected: [ChatError],
  async create() {
    const images = [{ image: tinyImage(W, H, 4), name: 'a.png' }, { image: tinyImage(H, W, 5), name: 'b.png' }];
    const small = 3136;
    const settings = {
      initialMinPixels: small, initialMaxPixels: 4 * small, cropMinPixels: small, cropMaxPixels: 4 * small, vllmMinPixels: small, vllmMaxPixels: 4 * small,
    };
    return {
      generate(rng) {
        let text = turn(rng);
        for (let k = rng.int(4); k > 0; k--) text = mutateText(rng, text, [...TURN_TOKENS, '"target_image"', '"crop_image_normalized"']);
        return text;
      },
      run(input) {
        const text = input as string;
        lastBoxed(text);
        const driver = new PixelReasonerDriver({ images, question: 'Which colour?' }, settings);
        driver.nextCall();
        driver.respond({ text, finishReason: 'stop', stopReason: null, totalTokens: 1000 });
        if (driver.nextCall() === null) driver.result(); // the final answer read from the turn
      },
    };
  },
};
