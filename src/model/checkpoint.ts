/**
 * Opens a Hugging Face checkpoint folder through ByteSources: config.json, generation_config.json,
 * preprocessor_config.json, and either model.safetensors or model.safetensors.index.json + shards. Only headers
 * are read here; tensor bytes are read on demand with `read(name)`.
 */
import { CLIP_MEAN, CLIP_STD } from '../preprocess/patchify.js';
import type { ByteSource } from './byte-source.js';
import {
  parseGenerationConfig,
  parseModelConfig,
  parsePreprocessorConfig,
  type GenerationConfig,
  type ModelConfig,
  type PreprocessorConfig,
} from './config.js';
import { CheckpointError, ConfigError, type CheckpointProblem } from './errors.js';
import { SafetensorsFile, type TensorInfo } from './safetensors.js';
import { canonicalTensorName, detectTensorLayout, type TensorLayout } from './tensor-layout.js';
import { jsonSnippet } from '../util/json-bounded.js';

export interface CheckpointFile {
  name: string;
  source: ByteSource;
}

/** Looks a file of the checkpoint up by name (e.g. over HTTP); null when it does not exist. */
export type FileResolver = (name: string) => Promise<ByteSource | null>;

export interface TensorLocation {
  file: string;
  info: TensorInfo;
  /** The name in the file, when the checkpoint uses the newer Hugging Face layout (the map key is the original name). */
  stored?: string;
}

export interface Checkpoint {
  config: ModelConfig;
  generation: GenerationConfig;
  preprocessor: PreprocessorConfig;
  /** Tensor name (original layout) -> shard file and header entry (for sharded checkpoints: as listed by the index). */
  tensors: Map<string, TensorLocation>;
  /** How the files name the tensors (src/model/tensor-layout.ts); `tensors` always uses the original names. */
  layout: TensorLayout;
  /** Opened safetensors files by name. */
  files: Map<string, SafetensorsFile>;
  /** Non-fatal findings (defaults used, tensors in shards but not in the index). */
  warnings: string[];
  read(name: string): Promise<Uint8Array>;
  readF32(name: string): Promise<Float32Array>;
}

export const INDEX_FILE = 'model.safetensors.index.json';
export const SINGLE_FILE = 'model.safetensors';
/** JSON side files are small; a huge one is not a config. */
const MAX_JSON_BYTES = 64 * 1024 * 1024;

/** Values of the Qwen2.5-VL processor (MODEL.md §2.2), used only when preprocessor_config.json is absent. */
const DEFAULT_PREPROCESSOR: PreprocessorConfig = {
  imageMean: [...CLIP_MEAN],
  imageStd: [...CLIP_STD],
  minPixels: 3136,
  maxPixels: 12845056,
  patchSize: 14,
  temporalPatchSize: 2,
  mergeSize: 2,
  rescaleFactor: 1 / 255,
};

async function readJson(src: ByteSource): Promise<unknown> {
  if (src.size > MAX_JSON_BYTES) throw new CheckpointError({ file: src.name, message: `${src.size} bytes is too large for a JSON file` });
  const bytes = await src.read(0, src.size);
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw new ConfigError(src.name, '(root)', `invalid JSON: ${(e as Error).message}`);
  }
}

function toResolver(files: CheckpointFile[] | FileResolver): FileResolver {
  if (typeof files === 'function') return files;
  const byName = new Map(files.map((f) => [f.name.split(/[\\/]/).pop()!, f.source]));
  return async (name) => byName.get(name) ?? null;
}

/** Shard names come from a file; only plain names in the same folder are allowed. */
function isPlainFileName(s: string): boolean {
  return s.length > 0 && !/[\\/]/.test(s) && s !== '.' && s !== '..';
}

export async function openCheckpoint(files: CheckpointFile[] | FileResolver): Promise<Checkpoint> {
  const get = toResolver(files);
  const warnings: string[] = [];

  const configSrc = await get('config.json');
  if (!configSrc) throw new CheckpointError({ file: 'config.json', message: 'missing from the checkpoint' });
  const config = parseModelConfig(await readJson(configSrc), 'config.json');

  const genSrc = await get('generation_config.json');
  let generation: GenerationConfig;
  if (genSrc) generation = parseGenerationConfig(await readJson(genSrc), 'generation_config.json');
  else {
    generation = { eosTokenIds: [...config.llm.eosTokenIds] };
    warnings.push(`generation_config.json missing: stop tokens from config.json eos_token_id ${JSON.stringify(config.llm.eosTokenIds)}`);
  }

  const ppSrc = await get('preprocessor_config.json');
  let preprocessor: PreprocessorConfig;
  if (ppSrc) preprocessor = parsePreprocessorConfig(await readJson(ppSrc), 'preprocessor_config.json');
  else {
    preprocessor = { ...DEFAULT_PREPROCESSOR };
    warnings.push('preprocessor_config.json missing: using the Qwen2.5-VL processor defaults (MODEL.md §2.2)');
  }

  const opened = new Map<string, SafetensorsFile>();
  const tensors = new Map<string, TensorLocation>();
  const problems: CheckpointProblem[] = [];

  /** Opens one safetensors file, collecting (not throwing) its problems. */
  const openShard = async (name: string, referencedBy: string): Promise<SafetensorsFile | undefined> => {
    const src = await get(name);
    if (!src) {
      problems.push({ file: name, message: `missing (referenced by ${referencedBy})` });
      return undefined;
    }
    try {
      const f = await SafetensorsFile.open(src);
      opened.set(name, f);
      return f;
    } catch (e) {
      if (e instanceof CheckpointError) for (const p of e.problems) problems.push(p); // no spread: 100k+ problems overflow it
      else throw e;
      return undefined;
    }
  };

  const indexSrc = await get(INDEX_FILE);
  if (indexSrc) {
    let index: unknown;
    try {
      index = await readJson(indexSrc);
    } catch (e) {
      if (e instanceof ConfigError) throw new CheckpointError({ file: INDEX_FILE, message: e.message });
      throw e;
    }
    const wm = (index as { weight_map?: unknown } | null)?.weight_map;
    if (typeof wm !== 'object' || wm === null || Array.isArray(wm)) {
      throw new CheckpointError({ file: INDEX_FILE, message: 'no weight_map object' });
    }
    const byShard = new Map<string, string[]>();
    for (const [tensor, shard] of Object.entries(wm as Record<string, unknown>)) {
      if (typeof shard !== 'string' || !isPlainFileName(shard)) {
        problems.push({ file: INDEX_FILE, tensor, message: `shard ${jsonSnippet(shard)} is not a file name in this folder` });
        continue;
      }
      (byShard.get(shard) ?? byShard.set(shard, []).get(shard)!).push(tensor);
    }
    if (byShard.size === 0 && problems.length === 0) problems.push({ file: INDEX_FILE, message: 'weight_map is empty' });
    for (const [shard, names] of [...byShard].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const f = await openShard(shard, INDEX_FILE);
      if (!f) continue;
      for (const name of names) {
        if (f.has(name)) tensors.set(name, { file: shard, info: f.info(name) });
        else problems.push({ file: shard, tensor: name, message: `listed in ${INDEX_FILE} but not in this shard` });
      }
      const listed = new Set(names);
      const stray = f.names.filter((n) => !listed.has(n));
      if (stray.length) warnings.push(`${shard}: ${stray.length} tensor(s) not in ${INDEX_FILE} (ignored): ${stray.slice(0, 5).join(', ')}`);
    }
  } else {
    const f = await openShard(SINGLE_FILE, 'default layout: no model.safetensors.index.json');
    if (f) for (const name of f.names) tensors.set(name, { file: SINGLE_FILE, info: f.info(name) });
  }
  if (problems.length) throw new CheckpointError(problems, problems.length > 1 ? 'cannot open checkpoint weights' : undefined);

  const layout = detectTensorLayout(tensors.keys(), indexSrc ? INDEX_FILE : SINGLE_FILE);
  if (layout !== 'original') {
    const stored = [...tensors];
    tensors.clear();
    for (const [name, loc] of stored) {
      const canonical = canonicalTensorName(name, layout);
      const clash = tensors.get(canonical);
      if (clash) problems.push({ file: loc.file, tensor: name, message: `maps to ${canonical}, which ${clash.stored} already names` });
      tensors.set(canonical, { ...loc, stored: name });
    }
    if (problems.length) throw new CheckpointError(problems, 'cannot open checkpoint weights');
  }

  const locate = (name: string): [SafetensorsFile, string] => {
    const loc = tensors.get(name);
    if (!loc) throw new CheckpointError({ file: indexSrc ? INDEX_FILE : SINGLE_FILE, tensor: name, message: 'no such tensor in the checkpoint' });
    return [opened.get(loc.file)!, loc.stored ?? name];
  };
  return {
    config,
    generation,
    preprocessor,
    tensors,
    layout,
    files: opened,
    warnings,
    read: (name) => {
      const [f, stored] = locate(name);
      return f.readRaw(stored);
    },
    readF32: (name) => {
      const [f, stored] = locate(name);
      return f.readF32(stored);
    },
  };
}
