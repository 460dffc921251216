// model.safetensors.index.json (weight_map: tensor -> shard file) and the shards' headers of a sharded checkpoint,
// mutated, then the checkpoint opened and one tensor per shard read.
import { CheckpointError, ConfigError } from '../../../src/model/errors.js';
import { fromValue, mutateBytes, mutateText, mutateTree, toText, type JNode } from '../mutate.js';
import type { Fuzzer } from '../runner.js';
import type { Rng } from '../rng.js';
import { checkpointFiles, encodeReplacement, openWithReplacement } from './checkpoint-files.js';
import { SAFETENSORS_KEYS, assemble } from './safetensors-header.js';

const INDEX = 'model.safetensors.index.json';

export const safetensorsIndexFuzzer: Fuzzer = {
  name: 'safetensors-index',
  description: 'openCheckpoint of a 3-shard checkpoint with a mutated index (weight_map) or shard header, then one read per shard',
  expected: [CheckpointError, ConfigError],
  async create() {
    const files = checkpointFiles();
    const shards = files.filter((f) => f.name.endsWith('.safetensors')).map((f) => f.name);
    const names = [INDEX, ...shards];
    const indexText = new TextDecoder().decode(files.find((f) => f.name === INDEX)!.bytes);
    const indexTree = fromValue(JSON.parse(indexText));
    const tensorNames = Object.keys(JSON.parse(indexText).weight_map as object);
    const keys = ['weight_map', 'metadata', 'total_size', ...shards, '../model.safetensors', '/etc/passwd', '.', '..', 'model.safetensors',
      ...tensorNames.slice(0, 20)];
    const shardParts = shards.map((name) => {
      const b = files.find((f) => f.name === name)!.bytes;
      const n = Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));
      return { name, tree: fromValue(JSON.parse(new TextDecoder().decode(b.subarray(8, 8 + n)))), data: b.subarray(8 + n), bytes: b };
    });
    const enc = new TextEncoder();
    const mutateIndex = (rng: Rng): Uint8Array => {
      if (rng.chance(0.6)) {
        let tree: JNode = indexTree;
        for (let k = rng.range(1, 4); k > 0; k--) tree = mutateTree(rng, tree, keys);
        return enc.encode(toText(tree));
      }
      if (rng.chance(0.7)) {
        let text = indexText;
        for (let k = rng.range(1, 3); k > 0; k--) text = mutateText(rng, text, keys.map((k) => `"${k}"`));
        return enc.encode(text);
      }
      let bytes: Uint8Array = enc.encode(indexText);
      for (let k = rng.range(1, 3); k > 0; k--) bytes = mutateBytes(rng, bytes);
      return bytes;
    };
    return {
      generate(rng) {
        if (rng.chance(0.7)) return encodeReplacement(names, INDEX, mutateIndex(rng));
        const s = rng.pick(shardParts);
        if (rng.chance(0.7)) {
          let tree = s.tree;
          for (let k = rng.range(1, 3); k > 0; k--) tree = mutateTree(rng, tree, [...SAFETENSORS_KEYS, ...tensorNames.slice(0, 20)]);
          return encodeReplacement(names, s.name, assemble(rng, toText(tree), s.data));
        }
        let bytes = s.bytes;
        for (let k = rng.range(1, 3); k > 0; k--) bytes = mutateBytes(rng, bytes);
        return encodeReplacement(names, s.name, bytes);
      },
      run: (input) => openWithReplacement(names, input as Uint8Array),
    };
  },
};
