// The files of a small generated checkpoint (sharded, so it has an index), shared by the config and index fuzzers:
// each input replaces one file and opens the whole checkpoint as `vilavt` does (openCheckpoint).
import { bytesSource } from '../../../src/model/byte-source.js';
import { openCheckpoint } from '../../../src/model/checkpoint.js';
import { contextLengthProblem } from '../../../src/model/kv-cache.js';
import { validateCheckpoint } from '../../../src/model/manifest.js';
import { makeTinyCheckpoint, tinyADims, type GeneratedFile } from '../../../src/model/tiny-checkpoint.js';
import { concat } from '../mutate.js';

let cached: GeneratedFile[] | undefined;

/** tiny-a's dimensions in 3 shards (bf16): a few hundred KB, generated once per process. */
export function checkpointFiles(): GeneratedFile[] {
  cached ??= makeTinyCheckpoint({ ...tinyADims(), shards: 3, dtype: 'bf16', seed: 7 }).files;
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
