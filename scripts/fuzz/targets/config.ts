// config.json, generation_config.json and preprocessor_config.json of a checkpoint, mutated as JSON trees, as text
// and as bytes (invalid UTF-8), then the checkpoint opened (parseModelConfig & co. through openCheckpoint).
import { CheckpointError, ConfigError } from '../../../src/model/errors.js';
import { fromValue, mutateBytes, mutateText, mutateTree, toText } from '../mutate.js';
import type { Fuzzer } from '../runner.js';
import { checkpointFiles, encodeReplacement, openWithReplacement } from './checkpoint-files.js';

const CONFIG_FILES = ['config.json', 'generation_config.json', 'preprocessor_config.json'] as const;

export const configFuzzer: Fuzzer = {
  name: 'config',
  description: 'openCheckpoint with a mutated config.json / generation_config.json / preprocessor_config.json (tree, text, bytes)',
  expected: [ConfigError, CheckpointError],
  async create() {
    const files = checkpointFiles();
    const seeds = CONFIG_FILES.map((name) => {
      const text = new TextDecoder().decode(files.find((f) => f.name === name)!.bytes);
      return { name, text, tree: fromValue(JSON.parse(text)) };
    });
    // Every key the seeds use, so renames and additions hit fields the parser reads.
    const keys = [...new Set(seeds.flatMap((s) => [...s.text.matchAll(/"([A-Za-z_0-9.]+)"\s*:/g)].map((m) => m[1]!)))];
    const enc = new TextEncoder();
    return {
      generate(rng) {
        const seed = rng.pick(seeds);
        const mode = rng.int(4);
        let bytes: Uint8Array;
        if (mode <= 1) {
          let tree = seed.tree;
          for (let k = rng.range(1, 4); k > 0; k--) tree = mutateTree(rng, tree, keys);
          bytes = enc.encode(toText(tree, rng.chance(0.5)));
        } else if (mode === 2) {
          let text = seed.text;
          for (let k = rng.range(1, 3); k > 0; k--) text = mutateText(rng, text, keys.map((k) => `"${k}"`), seeds.map((s) => s.text));
          bytes = enc.encode(text);
        } else {
          bytes = enc.encode(seed.text);
          for (let k = rng.range(1, 4); k > 0; k--) bytes = mutateBytes(rng, bytes);
        }
        return encodeReplacement(CONFIG_FILES, seed.name, bytes);
      },
      run: (input) => openWithReplacement(CONFIG_FILES, input as Uint8Array),
    };
  },
};
