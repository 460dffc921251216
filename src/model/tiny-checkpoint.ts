/**
 * Generates tiny random checkpoints in the real Hugging Face layout (same config.json shape as the golden
 * tiny-a checkpoint, real tensor names, optional sharding with model.safetensors.index.json). Platform-neutral:
 * returns bytes; scripts/make-tiny-checkpoint.ts writes them to a folder.
 */
import { CLIP_MEAN, CLIP_STD } from '../preprocess/patchify.js';
import { parseModelConfig, type LlmConfig, type TextEncoderConfig, type VisionConfig } from './config.js';
import { encode } from '../runtime/dtype.js';
import { resolveManifest } from './manifest.js';
import { encodeSafetensors, numel, type SafetensorsDtype, type TensorToEncode } from './safetensors.js';
import { mulberry32, normalArray } from '../util/random.js';

/** The generator's dimensions are the parsed config's fields (src/model/config.ts); optional ones have defaults. */
export type TinyLlmDims = Pick<LlmConfig, 'hidden' | 'intermediate' | 'layers' | 'heads' | 'kvHeads' | 'mropeSection'> &
  Partial<Pick<LlmConfig, 'ropeTheta' | 'rmsEps'>>;

/** windowSize: pixels, a multiple of patchSize * mergeSize. */
export type TinyVisionDims =
  Pick<VisionConfig, 'hidden' | 'depth' | 'heads' | 'intermediate' | 'windowSize' | 'fullattBlocks' | 'integrationPoint'> &
  Partial<Pick<VisionConfig, 'patchSize' | 'temporalPatchSize' | 'mergeSize'>>;

/** heads * headDim may differ from hidden (as in Qwen3); vocab defaults to the LLM vocabulary size. */
export type TinyTextEncoderDims = Pick<TextEncoderConfig, 'hidden' | 'layers' | 'heads' | 'kvHeads' | 'headDim' | 'intermediate'> &
  Partial<Pick<TextEncoderConfig, 'vocab'>>;

export interface TinyCheckpointOptions {
  llm: TinyLlmDims;
  vision: TinyVisionDims;
  /** Absent: a plain qwen2_5_vl checkpoint (integrationPoint must be 'none'). */
  textEncoder?: TinyTextEncoderDims;
  tieEmbeddings: boolean;
  /** Number of safetensors shards; > 1 writes model-0000k-of-0000N.safetensors + index. */
  shards?: number;
  dtype: 'bf16' | 'f16' | 'f32';
  seed: number;
  vocab: number;
  /** Token text -> id; default: the Qwen2.5 special tokens at their Qwen offsets from vocab - 20. */
  specialTokens?: Record<string, number>;
  /** Standard deviation of the random weights (default 0.05). */
  std?: number;
}

export interface GeneratedFile {
  name: string;
  bytes: Uint8Array;
}

/** Qwen2.5 special tokens in id order from <|endoftext|> (151643 in the real vocabulary). */
const QWEN_SPECIALS = [
  '<|endoftext|>', '<|im_start|>', '<|im_end|>', '<|object_ref_start|>', '<|object_ref_end|>', '<|box_start|>',
  '<|box_end|>', '<|quad_start|>', '<|quad_end|>', '<|vision_start|>', '<|vision_end|>', '<|vision_pad|>',
  '<|image_pad|>', '<|video_pad|>',
];

export function defaultSpecialTokens(vocab: number): Record<string, number> {
  const base = vocab - 20;
  if (base < 0) throw new RangeError(`vocab ${vocab} is too small for the 14 special tokens`);
  return Object.fromEntries(QWEN_SPECIALS.map((t, k) => [t, base + k]));
}

/** The dimensions of the golden tiny-a checkpoint (test/fixtures/golden/tiny-a/README.md). */
export function tinyADims(): Omit<TinyCheckpointOptions, 'seed' | 'dtype'> {
  return {
    llm: { hidden: 64, intermediate: 128, layers: 2, heads: 4, kvHeads: 2, mropeSection: [2, 3, 3] },
    vision: { hidden: 32, depth: 4, heads: 2, intermediate: 64, windowSize: 56, fullattBlocks: [1, 3], integrationPoint: 'late' },
    textEncoder: { hidden: 32, layers: 2, heads: 4, kvHeads: 2, headDim: 8, intermediate: 64 },
    tieEmbeddings: false,
    vocab: 320,
  };
}

function buildConfig(o: TinyCheckpointOptions, special: Record<string, number>): Record<string, unknown> {
  const { llm, vision: v, textEncoder: te } = o;
  const id = (t: string) => {
    const x = special[t];
    if (x === undefined) throw new RangeError(`specialTokens lacks ${t}`);
    return x;
  };
  const rope = { type: 'mrope', rope_type: 'default', mrope_section: llm.mropeSection };
  const text = {
    attention_dropout: 0.0,
    bos_token_id: id('<|endoftext|>'),
    eos_token_id: id('<|im_end|>'),
    hidden_act: 'silu',
    hidden_size: llm.hidden,
    initializer_range: 0.02,
    intermediate_size: llm.intermediate,
    max_position_embeddings: 128000,
    max_window_layers: llm.layers,
    num_attention_heads: llm.heads,
    num_hidden_layers: llm.layers,
    num_key_value_heads: llm.kvHeads,
    rms_norm_eps: llm.rmsEps ?? 1e-6,
    rope_scaling: rope,
    rope_theta: llm.ropeTheta ?? 1000000.0,
    sliding_window: 32768,
    use_sliding_window: false,
    use_cache: true,
    vocab_size: o.vocab,
    tie_word_embeddings: o.tieEmbeddings,
    torch_dtype: o.dtype === 'bf16' ? 'bfloat16' : o.dtype === 'f16' ? 'float16' : 'float32',
  };
  const cfg: Record<string, unknown> = {
    architectures: [te ? 'Qwen2_5_VLForConditionalGeneration_Vilavt' : 'Qwen2_5_VLForConditionalGeneration'],
    model_type: te ? 'vilavt' : 'qwen2_5_vl',
    ...text,
    image_token_id: id('<|image_pad|>'),
    video_token_id: id('<|video_pad|>'),
    vision_start_token_id: id('<|vision_start|>'),
    vision_end_token_id: id('<|vision_end|>'),
    vision_token_id: id('<|vision_pad|>'),
  };
  if (te) cfg.integration_point = v.integrationPoint;
  cfg.text_config = { model_type: 'qwen2_5_vl_text', ...text };
  const patch = v.patchSize ?? 14;
  cfg.vision_config = {
    model_type: 'qwen2_5_vl',
    depth: v.depth,
    hidden_act: 'silu',
    hidden_size: v.hidden,
    intermediate_size: v.intermediate,
    num_heads: v.heads,
    in_chans: 3,
    in_channels: 3,
    out_hidden_size: llm.hidden,
    patch_size: patch,
    spatial_merge_size: v.mergeSize ?? 2,
    spatial_patch_size: patch,
    temporal_patch_size: v.temporalPatchSize ?? 2,
    window_size: v.windowSize,
    fullatt_block_indexes: v.fullattBlocks,
    tokens_per_second: 2,
    ...(te ? { integration_point: v.integrationPoint } : {}),
    initializer_range: 0.02,
    torch_dtype: text.torch_dtype,
  };
  if (te) {
    cfg.text_encoder_config = {
      architectures: ['Qwen3ForCausalLM'],
      model_type: 'qwen3',
      attention_bias: false,
      attention_dropout: 0.0,
      bos_token_id: id('<|endoftext|>'),
      eos_token_id: id('<|endoftext|>'),
      head_dim: te.headDim,
      hidden_act: 'silu',
      hidden_size: te.hidden,
      initializer_range: 0.02,
      intermediate_size: te.intermediate,
      layer_types: Array(te.layers).fill('full_attention'),
      max_position_embeddings: 32768,
      max_window_layers: te.layers,
      num_attention_heads: te.heads,
      num_hidden_layers: te.layers,
      num_key_value_heads: te.kvHeads,
      rms_norm_eps: 1e-6,
      rope_scaling: null,
      rope_theta: 1000000.0,
      sliding_window: null,
      tie_word_embeddings: true,
      torch_dtype: text.torch_dtype,
      use_cache: true,
      use_sliding_window: false,
      vocab_size: te.vocab ?? o.vocab,
    };
  }
  cfg.tiny_special_tokens = special;
  cfg.tiny_generator = { script: 'src/model/tiny-checkpoint.ts', seed: o.seed, std: o.std ?? 0.05 };
  return cfg;
}

const PREPROCESSOR = {
  do_convert_rgb: true,
  do_normalize: true,
  do_rescale: true,
  do_resize: true,
  image_mean: CLIP_MEAN,
  image_std: CLIP_STD,
  image_processor_type: 'Qwen2VLImageProcessor',
  max_pixels: 12845056,
  min_pixels: 3136,
  merge_size: 2,
  patch_size: 14,
  temporal_patch_size: 2,
  resample: 3,
  rescale_factor: 0.00392156862745098,
  processor_class: 'Qwen2_5_VLProcessor',
};

const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v, null, 2) + '\n');

export function makeTinyCheckpoint(o: TinyCheckpointOptions): { files: GeneratedFile[] } {
  const special = o.specialTokens ?? defaultSpecialTokens(o.vocab);
  const configJson = buildConfig(o, special);
  const config = parseModelConfig(configJson); // the generator's config must pass our own parser
  const std = o.std ?? 0.05;
  const next = mulberry32(o.seed);
  const st: SafetensorsDtype = o.dtype === 'bf16' ? 'BF16' : o.dtype === 'f16' ? 'F16' : 'F32';

  const tensors: TensorToEncode[] = resolveManifest(config).map((t) => {
    const n = numel(t.shape);
    const z = normalArray(n, next);
    // Norm weights sit near 1 as in trained models; everything else is small noise (never exactly zero).
    const center = t.role.includes('norm') ? 1 : 0;
    const vals = Float32Array.from(z, (x) => center + std * x || std);
    let data: Uint8Array;
    if (st === 'F32') data = new Uint8Array(vals.buffer);
    else {
      data = encode(vals, st === 'BF16' ? 'bf16' : 'f16').subarray(0, vals.length * 2); // no word padding in files
    }
    return { name: t.name, dtype: st, shape: t.shape, data };
  });

  const files: GeneratedFile[] = [
    { name: 'config.json', bytes: json(configJson) },
    {
      name: 'generation_config.json',
      bytes: json({
        bos_token_id: special['<|endoftext|>'],
        eos_token_id: [special['<|im_end|>'], special['<|endoftext|>']],
        pad_token_id: special['<|endoftext|>'],
        do_sample: false,
      }),
    },
    { name: 'preprocessor_config.json', bytes: json(PREPROCESSOR) },
  ];
  const meta = { format: 'pt' };
  const byName = (a: TensorToEncode, b: TensorToEncode) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const shards = o.shards ?? 1;
  if (!Number.isInteger(shards) || shards < 1 || shards > tensors.length) {
    throw new RangeError(`shards must be an integer in 1..${tensors.length}, got ${shards}`);
  }
  if (shards === 1) {
    files.push({ name: 'model.safetensors', bytes: encodeSafetensors([...tensors].sort(byName), meta) });
    return { files };
  }
  // Contiguous runs in manifest order (layers stay together, as save_pretrained does), balanced by bytes.
  const total = tensors.reduce((s, t) => s + t.data.byteLength, 0);
  const groups: TensorToEncode[][] = [[]];
  let acc = 0;
  tensors.forEach((t, k) => {
    const left = tensors.length - k;
    const needNew = groups.length < shards && groups.at(-1)!.length > 0 && (acc >= (total * groups.length) / shards || left <= shards - groups.length);
    if (needNew) groups.push([]);
    groups.at(-1)!.push(t);
    acc += t.data.byteLength;
  });
  const weightMap: Record<string, string> = {};
  const pad = (k: number) => String(k).padStart(5, '0');
  groups.forEach((g, k) => {
    const name = `model-${pad(k + 1)}-of-${pad(shards)}.safetensors`;
    for (const t of g) weightMap[t.name] = name;
    files.push({ name, bytes: encodeSafetensors([...g].sort(byName), meta) });
  });
  const sortedMap = Object.fromEntries(Object.keys(weightMap).sort().map((k) => [k, weightMap[k]]));
  files.push({ name: 'model.safetensors.index.json', bytes: json({ metadata: { total_size: total }, weight_map: sortedMap }) });
  return { files };
}
