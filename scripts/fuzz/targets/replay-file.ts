// `--replay` files (a list of strings, {"assistant_turns": [...]}, {"responses": [{text, finish_reason,
// stop_reason}]}, optional "question"), mutated as JSON trees and as text: parseReplayFile.
import { ChatError } from '../../../src/chat/errors.js';
import { parseReplayFile } from '../../../src/chat/replay-file.js';
import { fromValue, mutateText, mutateTree, toText } from '../mutate.js';
import type { Fuzzer } from '../runner.js';

const SEEDS: unknown[] = [
  ['<think>look</think><tool>{"region": [{"index": 0, "bbox_2d": [1, 2, 30, 40]}], "query": "sign"}</tool>', '<answer>A</answer>'],
  { question: 'What shape?', assistant_turns: ['<answer>circle</answer>'] },
  { responses: [{ text: '<tool_call>{"name": "x"}</tool_call>', finish_reason: 'stop', stop_reason: null },
    { text: 'done', finish_reason: 'length', stop_reason: 151643 }] },
];
const KEYS = ['question', 'assistant_turns', 'responses', 'text', 'finish_reason', 'stop_reason', 'stop', 'length'];

export const replayFileFuzzer: Fuzzer = {
  name: 'replay-file',
  description: 'parseReplayFile on mutated replay documents (tree and text mutations)',
  expected: [ChatError],
  async create() {
    const trees = SEEDS.map(fromValue);
    const texts = SEEDS.map((s) => JSON.stringify(s));
    return {
      generate(rng) {
        if (rng.chance(0.6)) {
          let tree = rng.pick(trees);
          for (let k = rng.range(1, 4); k > 0; k--) tree = mutateTree(rng, tree, KEYS);
          return toText(tree);
        }
        let text = rng.pick(texts);
        for (let k = rng.range(1, 3); k > 0; k--) text = mutateText(rng, text, KEYS.map((k) => `"${k}"`), texts);
        return text;
      },
      run: (input) => parseReplayFile(input as string, 'replay.json'),
    };
  },
};
