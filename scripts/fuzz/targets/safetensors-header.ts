// safetensors files: the 8-byte length, the JSON header (dtypes, shapes, offsets, __metadata__, duplicate names)
// and the data section, mutated as a tree and as bytes; every tensor the header accepts is then read.
import { bytesSource } from '../../../src/model/byte-source.js';
import { CheckpointError } from '../../../src/model/errors.js';
import { DTYPE_BYTES, SafetensorsFile, encodeSafetensors, numel, type SafetensorsDtype } from '../../../src/model/safetensors.js';
import { concat, fromValue, mutateBytes, mutateText, mutateTree, toText, type JNode } from '../mutate.js';
import type { Fuzzer } from '../runner.js';
import type { Rng } from '../rng.js';

const DTYPES = Object.keys(DTYPE_BYTES) as SafetensorsDtype[];
export const SAFETENSORS_KEYS = ['dtype', 'shape', 'data_offsets', '__metadata__', 'format', 'pt', 'model.embed_tokens.weight',
  'visual.blocks.0.norm1.weight', ...DTYPES];

/** A small valid file: a few tensors of random dtypes and shapes, optional metadata. */
export function validSafetensors(rng: Rng): Uint8Array {
  const tensors = Array.from({ length: rng.range(1, 4) }, (_, i) => {
    const dtype = rng.pick(DTYPES);
    const shape = Array.from({ length: rng.int(3) }, () => rng.int(4));
    const data = new Uint8Array(numel(shape) * DTYPE_BYTES[dtype]).map(() => rng.int(256));
    return { name: `layer.${i}.weight`, dtype, shape, data };
  });
  return encodeSafetensors(tensors, rng.chance(0.5) ? { format: 'pt' } : undefined);
}

/** Splits a file into its header tree and data section (undefined when the header is not JSON). */
function split(file: Uint8Array): { tree: JNode; data: Uint8Array } | undefined {
  const n = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  try {
    return { tree: fromValue(JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + n)))), data: file.subarray(8 + n) };
  } catch {
    return undefined;
  }
}

/** Header text + data with the length prefix that matches (or, sometimes, one that does not). */
export function assemble(rng: Rng, header: string, data: Uint8Array): Uint8Array {
  const hb = new TextEncoder().encode(header);
  const len = new Uint8Array(8);
  const claimed = rng.chance(0.9) ? BigInt(hb.length) : rng.pick([0n, 1n, 2n, BigInt(hb.length + 1), BigInt(hb.length - 1), 2n ** 53n, 2n ** 64n - 1n]);
  new DataView(len.buffer).setBigUint64(0, claimed < 0n ? 0n : claimed, true);
  return concat(len, hb, data);
}

export const safetensorsHeaderFuzzer: Fuzzer = {
  name: 'safetensors-header',
  description: 'SafetensorsFile.open on mutated files (header tree, header text, raw bytes), then readF32/readInts of every tensor',
  expected: [CheckpointError],
  async create() {
    return {
      generate(rng) {
        let file = validSafetensors(rng);
        const parts = split(file)!;
        const mode = rng.int(3);
        if (mode === 0) { // tree: the fields the reader validates
          let tree = parts.tree;
          for (let k = rng.range(1, 3); k > 0; k--) tree = mutateTree(rng, tree, SAFETENSORS_KEYS);
          file = assemble(rng, toText(tree), parts.data);
        } else if (mode === 1) { // header text
          let text = toText(parts.tree);
          for (let k = rng.range(1, 3); k > 0; k--) text = mutateText(rng, text, ['"dtype"', '"shape"', '"data_offsets"', ':', ',', '{', '}', '[', ']', '"F32"', '"__metadata__"']);
          file = assemble(rng, text, parts.data);
        } else { // bytes of the whole file
          for (let k = rng.range(1, 4); k > 0; k--) file = mutateBytes(rng, file);
        }
        return file;
      },
      async run(input) {
        const f = await SafetensorsFile.open(bytesSource(input as Uint8Array, 'model.safetensors'));
        for (const name of f.names) {
          await f.readF32(name);
          if (['I64', 'I32', 'I16', 'I8', 'U8', 'BOOL'].includes(f.info(name).dtype)) await f.readInts(name);
        }
      },
    };
  },
};
