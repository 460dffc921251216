// The files of a small generated checkpoint (sharded, so it has an index), shared by the config and index fuzzers:
// each input replaces one file and opens the whole checkpoint as `vilavt` does (openCheckpoint).
import { bytesSource } from '../../../src/model/byte-source.js';
import { openCheckpoint } from '../../../src/model/checkpoint.js';
import { contextLengthProblem } from '../../../src/model/kv-cache.js';
import { validateCheckpoint } from '../../../src/model/manifest.js';
import { makeTinyCheckpoint, type GeneratedFile } from '../../../src/model/tiny-checkpoint.js';
import { concat } from '../mutate.js';

let cached: GeneratedFile[] | undefined;

/** A ViLaVT checkpoint smaller than tiny-a (one layer per tower) in 3 shards: ~40 KB, generated once per process. */
export function checkpointFiles(): GeneratedFile[] {
  cached ??= makeTinyCheckpoint({
    llm: { hidden: 16, intermediate: 32, layers: 1, heads: 2, kvHeads: 1, mropeSection: [1, 1, 2] },
    vision: { hidden: 16, depth: 2, heads: 2, intermediate: 32, windowSize: 56, fullattBlocks: [1], integrationPoint: 'late' },
    textEncoder: { hidden: 16, layers: 1, heads: 2, kvHeads: 1, headDim: 8, intermediate: 32 },
    tieEmbeddings: false, vocab: 40, shards: 3, dtype: 'bf16', seed: 7,
  }).files;
  return cached;
}

/** An input that replaces file `name`: one byte naming the file (its position in `names`), then its bytes. */
export function encodeReplacement(names: readonly string[], name: string, bytes: Uint8Array): Uint8Array {
  return concat(new Uint8Array([names.indexOf(name)]), bytes);
}

/** Opens the checkpoint with the replaced file (a byte past `names` removes nothing: the file set stays whole). */
export async function openWithReplacement(names: readonly string[], input: Uint8Array): Promise<void> {
  const name = names[input[0] ?? 0];
  const files = checkpointFiles()
    .map((f) => (f.name === name ? { ...f, bytes: input.subarray(1) } : f))
    .map((f) => ({ name: f.name, source: bytesSource(f.bytes, f.name) }));
  const ckpt = await openCheckpoint(files);
  // What `vilavt inspect` and the loader check next, before any GPU work.
  validateCheckpoint(ckpt, ckpt.config);
  contextLengthProblem(ckpt.config.llm, 4096, 'f32');
  // Read one tensor of each shard through the (maybe mutated) index: offsets must stay inside the files.
  const byFile = new Map([...ckpt.tensors].map(([t, loc]) => [loc.file, t]));
  for (const t of byFile.values()) await ckpt.readF32(t);
}
