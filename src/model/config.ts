/**
 * config.json / generation_config.json / preprocessor_config.json -> normalized typed configs (MODEL.md §1.4-§1.6,
 * §2.2). LLM fields may sit at the top level (old Qwen2.5-VL layout), in `text_config` (transformers >= 4.52),
 * or both (then they must agree).
 */
import { ConfigError } from './errors.js';
import { jsonEqual, jsonSnippet } from '../util/json-bounded.js';

export type Architecture = 'vilavt' | 'qwen2_5_vl';
export type IntegrationPoint = 'all' | 'early' | 'late' | 'late2' | 'late3' | 'sparse' | 'none';

export interface LlmConfig {
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
  ropeTheta: number;
  /** M-RoPE channel sections (t, h, w) in rotary pairs; sum == headDim / 2. */
  mropeSection: [number, number, number];
  rmsEps: number;
  tieEmbeddings: boolean;
  maxPositionEmbeddings: number;
  bosTokenId?: number;
  eosTokenIds: number[];
  imageTokenId: number;
  videoTokenId?: number;
  visionStartTokenId: number;
  visionEndTokenId: number;
  visionTokenId?: number;
}

export interface VisionConfig {
  depth: number;
  hidden: number;
  heads: number;
  headDim: number;
  intermediate: number;
  inChannels: number;
  patchSize: number;
  temporalPatchSize: number;
  mergeSize: number;
  /** Window side in pixels (112 = 4x4 merged tokens for the 7B). */
  windowSize: number;
  outHidden: number;
  fullattBlocks: number[];
  integrationPoint: IntegrationPoint;
  /** Blocks with query-aware (joint + inquiry) attention, ascending. */
  qaBlocks: number[];
  /** Hard-coded in the modeling code, not read from config (MODEL.md §1.4). */
  rmsEps: number;
  ropeTheta: number;
}

export interface TextEncoderConfig {
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  /** May differ from hidden / heads (Qwen3: 16 x 128 = 2048 != 1024). */
  headDim: number;
  intermediate: number;
  vocab: number;
  ropeTheta: number;
  rmsEps: number;
  maxPositionEmbeddings: number;
}

export interface TextProjConfig {
  inDim: number;
  outDim: number;
}

export interface ModelConfig {
  arch: Architecture;
  modelType: string;
  llm: LlmConfig;
  vision: VisionConfig;
  textEncoder?: TextEncoderConfig;
  textProj?: TextProjConfig;
  /** `tiny_special_tokens` of generated test checkpoints (token text -> id), when present. */
  specialTokens?: Record<string, number>;
  /** config.json's `quantization_config` as written (checked with the weights: src/model/awq.ts, manifest.ts). */
  quantization?: unknown;
}

/**
 * What the engine takes from generation_config.json: the stop tokens (vLLM adds its eos ids to the request's).
 * Its sampling fields are not read: every tool loop decodes with its reference driver's own settings
 * (GenerationRules of src/chat/driver.ts, deepeyes.ts, pixelreasoner.ts), which override them there too.
 */
export interface GenerationConfig {
  eosTokenIds: number[];
  bosTokenId?: number;
  padTokenId?: number;
}

export interface PreprocessorConfig {
  imageMean: [number, number, number];
  imageStd: [number, number, number];
  minPixels: number;
  maxPixels: number;
  patchSize: number;
  temporalPatchSize: number;
  mergeSize: number;
  rescaleFactor: number;
}

type Json = Record<string, unknown>;

/**
 * Layer/block counts above this are refused as corrupt: released models have at most a few hundred (the 7B: 28 LLM
 * layers, 32 ViT blocks), and a count of 2^31 made manifest resolution run the process out of memory (npm run fuzz).
 */
export const MAX_LAYERS = 1024;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Field reader that names the file and the dotted field path in every error. */
class Reader {
  constructor(
    readonly file: string,
    readonly prefix: string,
    readonly sources: Json[],
  ) {}

  private path(key: string): string {
    return this.prefix ? `${this.prefix}.${key}` : key;
  }

  fail(key: string, detail: string): never {
    throw new ConfigError(this.file, this.path(key), detail);
  }

  /**
   * Value from the first source that has it; all sources having it must agree. `sub` reads one member of an
   * object field (rope_scaling.mrope_section), so unrelated members (rope_type) may differ between sources.
   */
  raw(key: string, sub?: string): unknown {
    let found: unknown;
    let have = false;
    for (const s of this.sources) {
      let v = s[key];
      if (sub !== undefined) v = isObject(v) ? v[sub] : undefined;
      if (v === undefined) continue;
      if (have && !jsonEqual(found, v)) {
        const k = sub ? `${key}.${sub}` : key;
        this.fail(k, `top level (${jsonSnippet(v)}) and text_config (${jsonSnippet(found)}) disagree`);
      }
      found = v;
      have = true;
    }
    return found;
  }

  int(key: string, min = 1): number {
    const v = this.raw(key);
    if (v === undefined || v === null) this.fail(key, 'missing');
    if (!Number.isSafeInteger(v) || (v as number) < min) this.fail(key, `expected an integer >= ${min}, got ${jsonSnippet(v)}`);
    return v as number;
  }

  /** A number of layers or blocks: the engine enumerates per-layer tensors and plans, so a corrupt count must not reach them. */
  layerCount(key: string): number {
    const n = this.int(key);
    if (n > MAX_LAYERS) this.fail(key, `${n} layers is more than any supported model has (at most ${MAX_LAYERS}): corrupt config?`);
    return n;
  }

  optInt(key: string, min = 0): number | undefined {
    const v = this.raw(key);
    return v === undefined || v === null ? undefined : this.int(key, min);
  }

  positive(key: string): number {
    const v = this.raw(key);
    if (v === undefined || v === null) this.fail(key, 'missing');
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) this.fail(key, `expected a positive number, got ${jsonSnippet(v)}`);
    return v;
  }

  optPositive(key: string): number | undefined {
    const v = this.raw(key);
    return v === undefined || v === null ? undefined : this.positive(key);
  }

  bool(key: string, dflt: boolean): boolean {
    const v = this.raw(key);
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'boolean') this.fail(key, `expected true/false, got ${jsonSnippet(v)}`);
    return v;
  }

  intList(key: string, min = 0): number[] {
    const v = this.raw(key);
    if (!Array.isArray(v) || !v.every((x) => Number.isSafeInteger(x) && x >= min)) {
      this.fail(key, `expected a list of integers >= ${min}, got ${jsonSnippet(v)}`);
    }
    return [...v];
  }

  /** An int or a list of ints (eos_token_id). */
  idList(key: string): number[] | undefined {
    const v = this.raw(key);
    if (v === undefined || v === null) return undefined;
    return Array.isArray(v) ? this.intList(key) : [this.int(key, 0)];
  }

  /** The engine implements SiLU gates only. */
  silu(key: string): void {
    const v = this.raw(key);
    if (v !== undefined && v !== 'silu') this.fail(key, `unsupported activation ${jsonSnippet(v)} (only "silu")`);
  }
}

/** QA blocks per integration_point, exactly as the modeling code computes them (`depth // 2` etc.). */
export function qaBlocksFor(point: IntegrationPoint, depth: number, fullatt: readonly number[]): number[] {
  const all = Array.from({ length: depth }, (_, i) => i);
  const half = Math.floor(depth / 2);
  switch (point) {
    case 'all': return all;
    case 'early': return all.filter((i) => i < half);
    case 'late': return all.filter((i) => i >= half);
    case 'late2': return all.filter((i) => i >= Math.floor((3 * depth) / 4));
    case 'late3': return all.filter((i) => i >= Math.floor(depth / 4));
    case 'sparse': return all.filter((i) => fullatt.includes(i));
    case 'none': return [];
  }
}

const INTEGRATION_POINTS: readonly IntegrationPoint[] = ['all', 'early', 'late', 'late2', 'late3', 'sparse', 'none'];

function parseVision(file: string, vc: Json, allowQa: boolean): VisionConfig {
  const r = new Reader(file, 'vision_config', [vc]);
  const depth = r.layerCount('depth');
  const hidden = r.raw('hidden_size') !== undefined ? r.int('hidden_size') : r.int('embed_dim');
  const heads = r.int('num_heads');
  if (hidden % heads) r.fail('num_heads', `hidden_size ${hidden} is not divisible by num_heads ${heads}`);
  const inChannels = r.raw('in_chans') !== undefined ? r.int('in_chans') : r.raw('in_channels') !== undefined ? r.int('in_channels') : 3;
  if (inChannels !== 3) r.fail('in_chans', `expected 3 (RGB), got ${inChannels}`);
  const patchSize = r.raw('patch_size') !== undefined ? r.int('patch_size') : r.int('spatial_patch_size');
  const sps = r.optInt('spatial_patch_size');
  if (sps !== undefined && sps !== patchSize) r.fail('spatial_patch_size', `${sps} != patch_size ${patchSize}`);
  const mergeSize = r.int('spatial_merge_size');
  const windowSize = r.int('window_size');
  if (windowSize % (patchSize * mergeSize)) {
    r.fail('window_size', `${windowSize} is not a multiple of patch_size*spatial_merge_size = ${patchSize * mergeSize}`);
  }
  const fullattBlocks = r.raw('fullatt_block_indexes') === undefined ? [] : r.intList('fullatt_block_indexes');
  for (const b of fullattBlocks) if (b >= depth) r.fail('fullatt_block_indexes', `block ${b} >= depth ${depth}`);
  r.silu('hidden_act');
  const ip = r.raw('integration_point');
  const integrationPoint: IntegrationPoint =
    ip === undefined || ip === null
      ? 'none'
      : typeof ip === 'string' && (INTEGRATION_POINTS as readonly string[]).includes(ip)
        ? (ip as IntegrationPoint)
        : r.fail('integration_point', `unknown value ${jsonSnippet(ip)} (expected one of ${INTEGRATION_POINTS.join(', ')} or null)`);
  if (!allowQa && integrationPoint !== 'none') {
    r.fail('integration_point', `"${integrationPoint}" needs a text encoder, but config.json has no text_encoder_config`);
  }
  return {
    depth,
    hidden,
    heads,
    headDim: hidden / heads,
    intermediate: r.int('intermediate_size'),
    inChannels,
    patchSize,
    temporalPatchSize: r.int('temporal_patch_size'),
    mergeSize,
    windowSize,
    outHidden: r.int('out_hidden_size'),
    fullattBlocks,
    integrationPoint,
    qaBlocks: qaBlocksFor(integrationPoint, depth, fullattBlocks),
    rmsEps: 1e-6,
    ropeTheta: 10000,
  };
}

function parseLlm(file: string, top: Json): LlmConfig {
  const sources = isObject(top.text_config) ? [top.text_config, top] : [top];
  const r = new Reader(file, '', sources);
  const hidden = r.int('hidden_size');
  const heads = r.int('num_attention_heads');
  const kvHeads = r.int('num_key_value_heads');
  if (heads % kvHeads) r.fail('num_key_value_heads', `num_attention_heads ${heads} is not a multiple of ${kvHeads}`);
  const explicitHeadDim = r.optInt('head_dim', 1);
  if (explicitHeadDim === undefined && hidden % heads) r.fail('num_attention_heads', `hidden_size ${hidden} not divisible by ${heads}`);
  const headDim = explicitHeadDim ?? hidden / heads;
  const secRaw = r.raw('rope_scaling', 'mrope_section');
  if (!Array.isArray(secRaw)) return r.fail('rope_scaling', 'missing rope_scaling.mrope_section (M-RoPE)');
  const sec: unknown[] = secRaw;
  if (sec.length !== 3 || !sec.every((x) => Number.isSafeInteger(x) && (x as number) > 0)) {
    r.fail('rope_scaling.mrope_section', `expected 3 positive integers, got ${jsonSnippet(sec)}`);
  }
  const mropeSection = sec as [number, number, number];
  if (2 * (mropeSection[0] + mropeSection[1] + mropeSection[2]) !== headDim) {
    r.fail('rope_scaling.mrope_section', `2*sum(${jsonSnippet(sec)}) must equal head_dim ${headDim}`);
  }
  r.silu('hidden_act');
  // Stop tokens: the union over the top level and text_config (exports differ in int vs list here).
  const eos = [...new Set(sources.flatMap((s) => new Reader(file, '', [s]).idList('eos_token_id') ?? []))];
  if (eos.length === 0) return r.fail('eos_token_id', 'missing');
  return {
    hidden,
    intermediate: r.int('intermediate_size'),
    layers: r.layerCount('num_hidden_layers'),
    heads,
    kvHeads,
    headDim,
    vocab: r.int('vocab_size'),
    ropeTheta: r.positive('rope_theta'),
    mropeSection,
    rmsEps: r.positive('rms_norm_eps'),
    tieEmbeddings: r.bool('tie_word_embeddings', false),
    maxPositionEmbeddings: r.optInt('max_position_embeddings', 1) ?? 128000,
    bosTokenId: r.optInt('bos_token_id'),
    eosTokenIds: eos,
    imageTokenId: r.int('image_token_id', 0),
    videoTokenId: r.optInt('video_token_id'),
    visionStartTokenId: r.int('vision_start_token_id', 0),
    visionEndTokenId: r.int('vision_end_token_id', 0),
    visionTokenId: r.optInt('vision_token_id'),
  };
}

function parseTextEncoder(file: string, tc: Json): TextEncoderConfig {
  const r = new Reader(file, 'text_encoder_config', [tc]);
  const hidden = r.int('hidden_size');
  const heads = r.int('num_attention_heads');
  const kvHeads = r.int('num_key_value_heads');
  if (heads % kvHeads) r.fail('num_key_value_heads', `num_attention_heads ${heads} is not a multiple of ${kvHeads}`);
  const headDim = r.optInt('head_dim', 1) ?? hidden / heads;
  if (!Number.isInteger(headDim)) r.fail('head_dim', 'missing and hidden_size is not divisible by num_attention_heads');
  if (r.bool('attention_bias', false)) r.fail('attention_bias', 'true is not supported (Qwen3-Embedding has no attention bias)');
  if (r.raw('rope_scaling') !== undefined && r.raw('rope_scaling') !== null) r.fail('rope_scaling', 'RoPE scaling is not supported');
  if (r.bool('use_sliding_window', false)) r.fail('use_sliding_window', 'sliding-window attention is not supported');
  r.silu('hidden_act');
  return {
    hidden,
    layers: r.layerCount('num_hidden_layers'),
    heads,
    kvHeads,
    headDim,
    intermediate: r.int('intermediate_size'),
    vocab: r.int('vocab_size'),
    ropeTheta: r.positive('rope_theta'),
    rmsEps: r.positive('rms_norm_eps'),
    maxPositionEmbeddings: r.optInt('max_position_embeddings', 1) ?? 32768,
  };
}

/**
 * model_type `vilavt`, or `qwen2_5_vl` with a `text_encoder_config` (the cold-start checkpoint may keep the base
 * model_type, MODEL.md §1.4), is ViLaVT; plain `qwen2_5_vl` has no text encoder, text_proj or QA blocks.
 */
export function parseModelConfig(json: unknown, file = 'config.json'): ModelConfig {
  if (!isObject(json)) throw new ConfigError(file, '(root)', 'not a JSON object');
  const modelType = json.model_type;
  if (modelType !== 'vilavt' && modelType !== 'qwen2_5_vl') {
    throw new ConfigError(file, 'model_type', `unsupported ${jsonSnippet(modelType)} (expected "vilavt" or "qwen2_5_vl")`);
  }
  const tec = json.text_encoder_config;
  if (tec !== undefined && tec !== null && !isObject(tec)) throw new ConfigError(file, 'text_encoder_config', 'not an object');
  const hasTextEncoder = isObject(tec);
  if (modelType === 'vilavt' && !hasTextEncoder) throw new ConfigError(file, 'text_encoder_config', 'missing (required for vilavt)');
  if (!isObject(json.vision_config)) throw new ConfigError(file, 'vision_config', 'missing');
  const llm = parseLlm(file, json);
  const vision = parseVision(file, json.vision_config, hasTextEncoder);
  const cfg: ModelConfig = { arch: hasTextEncoder ? 'vilavt' : 'qwen2_5_vl', modelType, llm, vision };
  if (hasTextEncoder) {
    cfg.textEncoder = parseTextEncoder(file, tec as Json);
    cfg.textProj = { inDim: cfg.textEncoder.hidden, outDim: vision.hidden };
  }
  if (vision.outHidden !== llm.hidden) {
    throw new ConfigError(file, 'vision_config.out_hidden_size', `${vision.outHidden} != LLM hidden_size ${llm.hidden}`);
  }
  if (json.quantization_config !== undefined && json.quantization_config !== null) cfg.quantization = json.quantization_config;
  const st = json.tiny_special_tokens;
  if (st !== undefined) {
    if (!isObject(st) || !Object.values(st).every((v) => Number.isSafeInteger(v))) {
      throw new ConfigError(file, 'tiny_special_tokens', 'expected an object of token -> integer id');
    }
    cfg.specialTokens = { ...(st as Record<string, number>) };
  }
  return cfg;
}

export function parseGenerationConfig(json: unknown, file = 'generation_config.json'): GenerationConfig {
  if (!isObject(json)) throw new ConfigError(file, '(root)', 'not a JSON object');
  const r = new Reader(file, '', [json]);
  const eos = r.idList('eos_token_id');
  if (!eos || eos.length === 0) return r.fail('eos_token_id', 'missing');
  const g: GenerationConfig = { eosTokenIds: eos };
  const bos = r.optInt('bos_token_id');
  if (bos !== undefined) g.bosTokenId = bos;
  const pad = r.optInt('pad_token_id');
  if (pad !== undefined) g.padTokenId = pad;
  return g;
}

function triple(r: Reader, key: string, positive: boolean): [number, number, number] {
  const v = r.raw(key);
  if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x) && (!positive || x > 0))) {
    return r.fail(key, `expected 3 ${positive ? 'positive ' : ''}numbers, got ${jsonSnippet(v)}`);
  }
  return [v[0] as number, v[1] as number, v[2] as number];
}

export function parsePreprocessorConfig(json: unknown, file = 'preprocessor_config.json'): PreprocessorConfig {
  if (!isObject(json)) throw new ConfigError(file, '(root)', 'not a JSON object');
  const r = new Reader(file, '', [json]);
  // Newer processors store the pixel bounds as size.{shortest_edge,longest_edge}.
  const size = isObject(json.size) ? new Reader(file, 'size', [json.size]) : undefined;
  const minPixels = r.raw('min_pixels') !== undefined ? r.int('min_pixels') : size ? size.int('shortest_edge') : r.int('min_pixels');
  const maxPixels = r.raw('max_pixels') !== undefined ? r.int('max_pixels') : size ? size.int('longest_edge') : r.int('max_pixels');
  if (maxPixels < minPixels) r.fail('max_pixels', `${maxPixels} < min_pixels ${minPixels}`);
  return {
    imageMean: triple(r, 'image_mean', false),
    imageStd: triple(r, 'image_std', true),
    minPixels,
    maxPixels,
    patchSize: r.int('patch_size'),
    temporalPatchSize: r.int('temporal_patch_size'),
    mergeSize: r.int('merge_size'),
    rescaleFactor: r.optPositive('rescale_factor') ?? 1 / 255,
  };
}
