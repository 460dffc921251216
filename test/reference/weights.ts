// Weights and config for the float64 reference (test-only). Weights are widened exactly (bf16/f16/f32 -> f64).

import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { bytesSource } from '../../src/model/byte-source.js';
import { SafetensorsFile } from '../../src/model/safetensors.js';
import { RefError } from './ops.js';

export interface RefWeights {
  tensors: Map<string, Float64Array>;
  shapes: Map<string, number[]>;
}

/** A weight by name, optionally checking its shape. */
export function refWeight(w: RefWeights, name: string, shape?: readonly number[]): Float64Array {
  const t = w.tensors.get(name);
  if (!t) throw new RefError(`missing weight ${name}`);
  if (shape) {
    const s = w.shapes.get(name) ?? [t.length];
    if (s.length !== shape.length || s.some((d, i) => d !== shape[i])) {
      throw new RefError(`weight ${name} has shape [${s.join(',')}], expected [${shape.join(',')}]`);
    }
  }
  return t;
}

export interface SafetensorsF64 {
  floats: RefWeights;
  /** Integer tensors (I64/I32/...) as numbers, with their shapes. */
  ints: Map<string, { data: number[]; shape: number[] }>;
}

/** Reads every tensor of a safetensors file: floating tensors widened to f64, integer tensors as numbers. */
// A plain Uint8Array copy: Node Buffer.slice returns views, which the in-memory ByteSource does not expect.
export async function readSafetensorsF64(path: string): Promise<SafetensorsF64> {
  const file = await SafetensorsFile.open(bytesSource(new Uint8Array(readFileSync(path)), basename(path)));
  const floats: RefWeights = { tensors: new Map(), shapes: new Map() };
  const ints = new Map<string, { data: number[]; shape: number[] }>();
  for (const name of file.names) {
    const info = file.info(name);
    if (info.dtype === 'F32' || info.dtype === 'F16' || info.dtype === 'BF16' || info.dtype === 'F64') {
      // readF32 widens bf16/f16 exactly; F64 would be rounded, so it is not expected in these files.
      if (info.dtype === 'F64') throw new RefError(`${path}: ${name}: F64 tensors are not supported here`);
      floats.tensors.set(name, Float64Array.from(await file.readF32(name)));
      floats.shapes.set(name, [...info.shape]);
    } else {
      ints.set(name, { data: await file.readInts(name), shape: [...info.shape] });
    }
  }
  return { floats, ints };
}

export interface RefVisionConfig {
  depth: number;
  hiddenSize: number;
  numHeads: number;
  intermediateSize: number;
  outHiddenSize: number;
  inChannels: number;
  patchSize: number;
  temporalPatchSize: number;
  mergeSize: number;
  windowSize: number;
  fullattBlockIndexes: number[];
  integrationPoint: string | null;
  /** Hard-coded in the modeling code (not in config.json): rotary theta 10000, RMSNorm eps 1e-6. */
  ropeTheta: number;
  eps: number;
}

/** The dimensions of a decoder stack (the Qwen3 text encoder; the LLM adds its own fields). */
export interface RefTextEncoderConfig {
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  intermediateSize: number;
  eps: number;
  ropeTheta: number;
}

export interface RefLlmConfig extends RefTextEncoderConfig {
  mropeSection: number[];
  vocabSize: number;
  tieWordEmbeddings: boolean;
  imageTokenId: number;
  visionStartTokenId: number;
}

export interface RefConfig {
  vision: RefVisionConfig;
  /** null for a plain qwen2_5_vl checkpoint (no text_encoder_config). */
  textEncoder: RefTextEncoderConfig | null;
  llm: RefLlmConfig;
}

function num(o: Record<string, unknown>, key: string): number {
  const v = o[key];
  if (typeof v !== 'number') throw new RefError(`config field ${key} missing or not a number`);
  return v;
}

/** Reads the fields the reference needs from a ViLaVT config.json object. */
export function refConfigFromJson(json: Record<string, unknown>): RefConfig {
  const v = json['vision_config'] as Record<string, unknown>;
  const t = json['text_encoder_config'] as Record<string, unknown> | undefined;
  const rope = json['rope_scaling'] as Record<string, unknown>;
  if (!v || !rope) throw new RefError('config.json needs vision_config and rope_scaling');
  const llmHidden = num(json, 'hidden_size');
  const llmHeads = num(json, 'num_attention_heads');
  return {
    vision: {
      depth: num(v, 'depth'),
      hiddenSize: num(v, 'hidden_size'),
      numHeads: num(v, 'num_heads'),
      intermediateSize: num(v, 'intermediate_size'),
      outHiddenSize: num(v, 'out_hidden_size'),
      inChannels: num(v, 'in_channels'),
      patchSize: num(v, 'patch_size'),
      temporalPatchSize: num(v, 'temporal_patch_size'),
      mergeSize: num(v, 'spatial_merge_size'),
      windowSize: num(v, 'window_size'),
      fullattBlockIndexes: v['fullatt_block_indexes'] as number[],
      integrationPoint: (v['integration_point'] as string | undefined) ?? null,
      ropeTheta: 10000,
      eps: 1e-6,
    },
    textEncoder: t === undefined ? null : {
      hiddenSize: num(t, 'hidden_size'),
      numLayers: num(t, 'num_hidden_layers'),
      numHeads: num(t, 'num_attention_heads'),
      numKvHeads: num(t, 'num_key_value_heads'),
      headDim: num(t, 'head_dim'),
      intermediateSize: num(t, 'intermediate_size'),
      eps: num(t, 'rms_norm_eps'),
      ropeTheta: num(t, 'rope_theta'),
    },
    llm: {
      hiddenSize: llmHidden,
      numLayers: num(json, 'num_hidden_layers'),
      numHeads: llmHeads,
      numKvHeads: num(json, 'num_key_value_heads'),
      headDim: llmHidden / llmHeads,
      intermediateSize: num(json, 'intermediate_size'),
      eps: num(json, 'rms_norm_eps'),
      ropeTheta: num(json, 'rope_theta'),
      mropeSection: rope['mrope_section'] as number[],
      vocabSize: num(json, 'vocab_size'),
      tieWordEmbeddings: json['tie_word_embeddings'] === true,
      imageTokenId: num(json, 'image_token_id'),
      visionStartTokenId: num(json, 'vision_start_token_id'),
    },
  };
}
