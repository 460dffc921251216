// Golden case folders in the tiny-a format (scenarios.json, <scenario>.safetensors, checkpoint/) for generated
// checkpoint variants, with every expected value computed by OUR float64 reference (test/reference/reference.ts).
// Node-only, test tooling: `npm run golden -- DIR` and test/model/engine-variants.test.ts run what this writes.
//
// Inputs are generated first and stored exactly as the engine will read them (pixel values F32, ids I64, image
// features F32); the reference then runs on those stored values widened to float64, so an exact engine differs
// from each expected output only by its own arithmetic.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTinyCheckpoint, tinyADims, type TinyCheckpointOptions } from '../../src/model/tiny-checkpoint.js';
import { bytesSource } from '../../src/model/byte-source.js';
import { encodeSafetensors, SafetensorsFile, type TensorToEncode } from '../../src/model/safetensors.js';
import { patchify } from '../../src/preprocess/patchify.js';
import {
  RefError, refConfigFromJson, refGreedy, refLlmForward, refRopeIndex, refTextEncoder, refTextProj,
  refVisionForward, type RefInquiry, type RefVisionResult, type RefWeights,
} from './reference.js';
import { mulberry32 } from '../../src/util/random.js';

/** Width x height in pixels (multiples of patch_size * spatial_merge_size). */
export type Size = readonly [w: number, h: number];

export interface RegionGroup {
  /** Region images re-encoded jointly in one query group. */
  regions: readonly Size[];
  /** Text-encoder ids of the group's inquiry, unpadded (non-empty; a plain checkpoint has no region groups). */
  inquiry: readonly number[];
}

export interface CaseVariant {
  name: string;
  /** One line: what the variant exercises. */
  about: string;
  /** Checkpoint generator options (bf16 weights, as released checkpoints). */
  checkpoint: Omit<TinyCheckpointOptions, 'dtype'>;
  /** Original images: a_vision encodes them, d_prefill holds one image block per original. */
  originals: readonly Size[];
  /**
   * Turn-2 region groups (b_reencode encodes all of them in one call, e_second_turn appends them after the
   * originals). Without a text encoder: plain regions, each its own group with no inquiry (`inquiry` empty).
   */
  regionGroups: readonly RegionGroup[];
  greedySteps: number;
  /** Seed of the images and token ids (the checkpoint has its own). */
  seed: number;
}

export type Role = 'input' | 'intermediate' | 'output';

export interface CaseTensor {
  name: string;
  dtype: 'F32' | 'I64' | 'U8';
  shape: number[];
  role: Role;
  desc: string;
  /** F32 values (already rounded to f32 when stored), integers, or bytes. */
  data: Float32Array | number[] | Uint8Array;
}

export interface CaseScenario {
  name: string;
  title: string;
  params: Record<string, unknown>;
  tensors: CaseTensor[];
}

export interface GoldenCase {
  variant: CaseVariant;
  checkpointFiles: { name: string; bytes: Uint8Array }[];
  specialTokens: Record<string, number>;
  scenarios: CaseScenario[];
}

export class GoldenCaseError extends Error {
  override readonly name = 'GoldenCaseError';
}

// ---- variants ----------------------------------------------------------------------------------------------

const base = tinyADims();

/** Small inquiries (text-encoder ids below the special tokens of a 320-token vocabulary). */
const INQ5 = [17, 230, 41, 96, 5];
const INQ3 = [201, 64, 150];

/** The variants the engine must run (kept tiny: lavapipe runs each in seconds). */
export const VARIANTS: readonly CaseVariant[] = [
  {
    name: 'tiny-a-like',
    about: 'tiny-a dimensions, untied lm_head, one safetensors file',
    checkpoint: { ...base, seed: 11 },
    originals: [[112, 84]],
    regionGroups: [{ regions: [[56, 84], [84, 56]], inquiry: INQ5 }],
    greedySteps: 6,
    seed: 101,
  },
  {
    name: 'tied-sharded',
    about: 'tied embeddings (no lm_head.weight), 3 shards with an index, LLM hidden 48 / head_dim 12',
    checkpoint: {
      ...base, seed: 12, tieEmbeddings: true, shards: 3,
      llm: { hidden: 48, intermediate: 96, layers: 2, heads: 4, kvHeads: 2, mropeSection: [2, 2, 2] },
    },
    originals: [[56, 84]],
    regionGroups: [{ regions: [[56, 56]], inquiry: INQ3 }],
    greedySteps: 5,
    seed: 102,
  },
  {
    name: 'gqa3',
    about: 'LLM GQA ratio 3 (6 q heads / 2 kv heads, head_dim 8); text encoder ratio 1 (4 / 4 heads)',
    checkpoint: {
      ...base, seed: 13,
      llm: { hidden: 48, intermediate: 80, layers: 2, heads: 6, kvHeads: 2, mropeSection: [1, 2, 1] },
      textEncoder: { hidden: 32, layers: 2, heads: 4, kvHeads: 4, headDim: 8, intermediate: 48 },
    },
    originals: [[84, 56]],
    regionGroups: [{ regions: [[56, 56]], inquiry: INQ5 }],
    greedySteps: 5,
    seed: 103,
  },
  {
    name: 'te-wide-heads',
    about: 'text encoder hidden 24 with 4 heads x head_dim 8 = 32 != hidden (Qwen3 style), 2 kv heads',
    checkpoint: {
      ...base, seed: 14,
      textEncoder: { hidden: 24, layers: 2, heads: 4, kvHeads: 2, headDim: 8, intermediate: 40 },
    },
    originals: [[56, 56]],
    regionGroups: [{ regions: [[84, 56]], inquiry: INQ5 }],
    greedySteps: 5,
    seed: 104,
  },
  {
    name: 'multi-region',
    about: 'non-square originals 140x56 and 56x112; two inquiry groups in one call (3 regions, then 1)',
    checkpoint: { ...base, seed: 15 },
    originals: [[140, 56], [56, 112]],
    regionGroups: [
      { regions: [[56, 28], [28, 56], [28, 28]], inquiry: INQ5 },
      { regions: [[84, 56]], inquiry: INQ3 },
    ],
    greedySteps: 5,
    seed: 105,
  },
  {
    name: 'ip-sparse',
    about: "integration_point 'sparse' (QA blocks = fullatt_block_indexes [1, 3])",
    checkpoint: { ...base, seed: 16, vision: { ...base.vision, integrationPoint: 'sparse' } },
    originals: [[56, 84]],
    regionGroups: [{ regions: [[56, 56], [28, 56]], inquiry: INQ3 }],
    greedySteps: 4,
    seed: 106,
  },
  {
    name: 'ip-all',
    about: "integration_point 'all' (every vision block is a QA block)",
    checkpoint: { ...base, seed: 17, vision: { ...base.vision, integrationPoint: 'all' } },
    originals: [[84, 56]],
    regionGroups: [{ regions: [[56, 56], [56, 28]], inquiry: INQ5 }],
    greedySteps: 4,
    seed: 107,
  },
  {
    name: 'plain-qwen',
    about: 'plain qwen2_5_vl checkpoint: no text encoder, no text_proj, no QA blocks',
    checkpoint: (() => {
      const { textEncoder: _none, ...rest } = base;
      return { ...rest, seed: 18, vision: { ...base.vision, integrationPoint: 'none' as const } };
    })(),
    originals: [[112, 56]],
    regionGroups: [{ regions: [[56, 56]], inquiry: [] }, { regions: [[28, 56]], inquiry: [] }],
    greedySteps: 4,
    seed: 108,
  },
  {
    name: 'windows',
    about: 'window_size 84 (3x3 merged units): 168x112 image = partial windows down, a vanishing extra window across',
    checkpoint: { ...base, seed: 19, vision: { ...base.vision, windowSize: 84 } },
    originals: [[168, 112]],
    regionGroups: [{ regions: [[140, 84]], inquiry: INQ3 }],
    greedySteps: 4,
    seed: 109,
  },
];

export function variantByName(name: string): CaseVariant {
  const v = VARIANTS.find((x) => x.name === name);
  if (!v) throw new GoldenCaseError(`unknown variant ${JSON.stringify(name)} (known: ${VARIANTS.map((x) => x.name).join(', ')})`);
  return v;
}

// ---- generation --------------------------------------------------------------------------------------------

/** A smooth colour field plus noise: varied like a photo, never constant. */
function randomImage([w, h]: Size, next: () => number): Uint8Array {
  const data = new Uint8Array(w * h * 3);
  const f = [0, 1, 2].map(() => [next() * 0.2, next() * 0.2, next() * 6.28]);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        const [fx, fy, ph] = f[c]!;
        const v = 128 + 80 * Math.sin(fx! * x + fy! * y + ph!) + 60 * (next() - 0.5);
        data[(y * w + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  return data;
}

interface Pictures {
  u8: Uint8Array[];
  /** F32 patches of all images, concatenated. */
  pixels: Float32Array;
  grids: [number, number, number][];
}

function picturesOf(sizes: readonly Size[], next: () => number, patch: number, merge: number, temporal: number): Pictures {
  const u8: Uint8Array[] = [];
  const parts: Float32Array[] = [];
  const grids: [number, number, number][] = [];
  for (const s of sizes) {
    const data = randomImage(s, next);
    const p = patchify({ width: s[0], height: s[1], channels: 3, data }, { patchSize: patch, mergeSize: merge, temporalPatchSize: temporal });
    u8.push(data);
    parts.push(p.pixelValues);
    grids.push(p.gridThw);
  }
  return { u8, pixels: concatF32(parts), grids };
}

function concatF32(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

const f64 = (x: Float32Array): Float64Array => Float64Array.from(x);
const f32 = (x: ArrayLike<number>): Float32Array => Float32Array.from(x);

/** Builds the case in memory (checkpoint bytes, scenario tensors); `writeGoldenCase` puts it on disk. */
export async function makeGoldenCase(variant: CaseVariant): Promise<GoldenCase> {
  const { files } = makeTinyCheckpoint({ ...variant.checkpoint, dtype: 'bf16' });
  const configJson = JSON.parse(new TextDecoder().decode(files.find((f) => f.name === 'config.json')!.bytes)) as Record<string, unknown>;
  const cfg = refConfigFromJson(configJson);
  const weights = await weightsOf(files);
  const special = configJson.tiny_special_tokens as Record<string, number>;
  const tok = (t: string): number => {
    const id = special[t];
    if (id === undefined) throw new GoldenCaseError(`checkpoint has no special token ${t}`);
    return id;
  };
  const hasTe = cfg.textEncoder !== null;
  for (const g of variant.regionGroups) {
    if (hasTe && g.inquiry.length === 0) throw new GoldenCaseError(`${variant.name}: every region group needs an inquiry`);
    if (!hasTe && g.inquiry.length > 0) throw new GoldenCaseError(`${variant.name}: a checkpoint without text encoder takes no inquiry`);
  }
  if (!hasTe && variant.regionGroups.some((g) => g.regions.length !== 1)) {
    throw new GoldenCaseError(`${variant.name}: without a text encoder each region is its own group (one region per group)`);
  }
  if (variant.regionGroups.length === 0 || variant.originals.length === 0) throw new GoldenCaseError('a case needs originals and region groups');

  const v = cfg.vision;
  const L = cfg.llm;
  const next = mulberry32(variant.seed);
  const pics = (sizes: readonly Size[]) => picturesOf(sizes, next, v.patchSize, v.mergeSize, v.temporalPatchSize);
  const eot = tok('<|endoftext|>');
  const textIds = (n: number): number[] => Array.from({ length: n }, () => Math.floor(next() * (L.vocabSize - 20)));
  const merged = (g: readonly number[]) => (g[1]! / v.mergeSize) * (g[2]! / v.mergeSize);
  const block = (g: readonly number[]) => [tok('<|vision_start|>'), ...Array<number>(merged(g)).fill(L.imageTokenId), tok('<|vision_end|>')];

  const scenarios: CaseScenario[] = [];
  const sc = (name: string, title: string, params: Record<string, unknown> = {}) => {
    const s: CaseScenario = { name, title, params, tensors: [] };
    scenarios.push(s);
    const add = (t: CaseTensor) => { s.tensors.push(t); };
    return {
      f32: (n: string, shape: number[], data: ArrayLike<number>, role: Role, desc: string) => add({ name: n, dtype: 'F32', shape, role, desc, data: f32(data) }),
      i64: (n: string, shape: number[], data: ArrayLike<number>, role: Role, desc: string) => add({ name: n, dtype: 'I64', shape, role, desc, data: Array.from(data) }),
      u8: (n: string, shape: number[], data: Uint8Array, role: Role, desc: string) => add({ name: n, dtype: 'U8', shape, role, desc, data }),
    };
  };
  const patchDim = v.inChannels * v.temporalPatchSize * v.patchSize * v.patchSize;
  const Dv = v.hiddenSize;

  /** The integer and float intermediates every vision scenario stores (same names as tiny-a). */
  const visionTensors = (w: ReturnType<typeof sc>, res: RefVisionResult, paddedT: number) => {
    const ix = res.indexing;
    const N = ix.posIds.length / 2;
    const G = ix.groupMaxPos.length;
    w.i64('pos_ids', [N, 2], ix.posIds, 'intermediate', '(N,2) vision rotary (row, col) position of every patch, processor order (incl. multi-image offsets)');
    w.i64('window_index', [ix.windowIndex.length], ix.windowIndex, 'intermediate', '(N/4,) window permutation of merged tokens (get_window_index)');
    w.i64('cu_window_seqlens', [ix.cuWindowSeqlens.length], ix.cuWindowSeqlens, 'intermediate', 'window boundaries in patch tokens after unique_consecutive');
    w.i64('cu_seqlens', [ix.cuSeqlens.length], ix.cuSeqlens, 'intermediate', 'per-image (per-frame) boundaries used by full-attention blocks');
    w.i64('cu_seqlens_q', [ix.cuSeqlensQ.length], ix.cuSeqlensQ, 'intermediate', 'query-group boundaries (image tokens) used by QA blocks');
    w.i64('cu_seqlens_k', [ix.cuSeqlensK.length], ix.cuSeqlensK, 'intermediate', 'query-group boundaries of [image tokens + valid inquiry tokens] in QA blocks');
    w.i64('inquiry_pos_ids', [G, paddedT], ix.groupMaxPos.flatMap((s) => Array.from({ length: paddedT }, (_, j) => s + j)), 'intermediate',
      '(B,T) vision-rotary position of each inquiry slot (used for both h and w)');
    w.f32('patch_embed', [N, Dv], res.patchEmbed, 'intermediate', '(N,Dv) patch embedding, processor order');
    res.blocks.forEach((b, i) => w.f32(`block${i}`, [N, Dv], b, 'intermediate', `(N,Dv) hidden state after vision block ${i}, WINDOW-PERMUTED order`));
    const M = N / (v.mergeSize * v.mergeSize);
    w.f32('merged_window_order', [M, v.outHiddenSize], res.mergedWindowOrder, 'intermediate', '(N/4,out) merger output before the reverse permutation');
  };

  /** Inquiry of one padded row: text_proj(text_encoder(ids, mask)). */
  const inquiryOf = (ids: readonly number[], mask: readonly number[]): { inquiry: RefInquiry; last: Float64Array } => {
    const te = refTextEncoder(weights, cfg, ids, mask);
    return { inquiry: { embeds: refTextProj(weights, cfg, te.lastHiddenState, ids.length), mask }, last: te.lastHiddenState };
  };
  /** Right-padded [Q, T] ids and mask (padding <|endoftext|>, mask 0); a null row is a dummy all-padding query. */
  const padRows = (rows: readonly (readonly number[] | null)[]) => {
    const T = Math.max(1, ...rows.map((r) => (r ? r.length : 0)));
    const ids: number[] = [];
    const mask: number[] = [];
    for (const r of rows) {
      for (let j = 0; j < T; j++) {
        ids.push(r && j < r.length ? r[j]! : eot);
        mask.push(r && j < r.length ? 1 : 0);
      }
    }
    return { ids, mask, T };
  };
  const rowOf = (a: number[], T: number, q: number) => a.slice(q * T, (q + 1) * T);

  // a_vision: the originals, each its own query group without inquiry.
  const orig = pics(variant.originals);
  const origMap = variant.originals.map((_, i) => i);
  const aRes = refVisionForward(weights, cfg, f64(orig.pixels), orig.grids, origMap, origMap.map(() => null));
  const aFeatures = f32(aRes.features);
  {
    const w = sc('a_vision', 'vision encoder on the original image(s) without inquiry (dummy query per image)', {
      image_sizes_wh: variant.originals, image_to_query_mapping: origMap, note: 'each image is its own query group with zero inquiry tokens',
    });
    orig.u8.forEach((d, i) => w.u8(`image${i}_u8`, [variant.originals[i]![1], variant.originals[i]![0], 3], d, 'input', `(H,W,3) uint8 RGB original image ${i}`));
    w.f32('pixel_values', [orig.pixels.length / patchDim, patchDim], orig.pixels, 'input', '(N,1176) normalized patches as Qwen2VLImageProcessor emits them');
    w.i64('grid_thw', [orig.grids.length, 3], orig.grids.flat(), 'input', '(n_images,3) patch grid (t,h,w) per image');
    visionTensors(w, aRes, 1);
    w.f32('features', [aFeatures.length / v.outHiddenSize, v.outHiddenSize], aFeatures, 'output', '(N/4,out_hidden) merged visual tokens, image order then row-major merged grid');
  }

  // b_reencode: every region group in one call, each group with its inquiry (right-padded to the longest).
  // Note: src/golden/model.ts compares b's inquiry_embeds row-correctly only while no group but the last is
  // padded, so multi-group variants list their longest inquiry first.
  const regionSizes = variant.regionGroups.flatMap((g) => g.regions);
  const regionMap = variant.regionGroups.flatMap((g, k) => g.regions.map(() => k));
  const regs = pics(regionSizes);
  const bQ = padRows(variant.regionGroups.map((g) => g.inquiry));
  const bInq = hasTe ? variant.regionGroups.map((_, q) => inquiryOf(rowOf(bQ.ids, bQ.T, q), rowOf(bQ.mask, bQ.T, q)).inquiry) : regionMap.map(() => null);
  const bRes = refVisionForward(weights, cfg, f64(regs.pixels), regs.grids, regionMap, bInq);
  {
    const w = sc('b_reencode', 'joint re-encode of the regions of each query group conditioned on its inquiry', {
      region_sizes_wh: regionSizes, tokens_per_region: regs.grids.map(merged), image_to_query_mapping: regionMap,
    });
    regs.u8.forEach((d, i) => w.u8(`region${i}_u8`, [regionSizes[i]![1], regionSizes[i]![0], 3], d, 'input', `(H,W,3) uint8 RGB region ${i}`));
    w.f32('pixel_values', [regs.pixels.length / patchDim, patchDim], regs.pixels, 'input', '(N,1176) patches of all regions, concatenated in region order');
    w.i64('grid_thw', [regs.grids.length, 3], regs.grids.flat(), 'input', '(n_regions,3)');
    if (hasTe) {
      w.i64('query_ids', [variant.regionGroups.length, bQ.T], bQ.ids, 'input', '(Q,T) inquiry ids, right-padded with <|endoftext|>');
      w.i64('query_mask', [variant.regionGroups.length, bQ.T], bQ.mask, 'input', '(Q,T)');
    }
    w.i64('image_to_query_mapping', [regionMap.length], regionMap, 'input', '(n_regions,) query index of each region');
    if (hasTe) {
      w.f32('inquiry_embeds', [variant.regionGroups.length, bQ.T, Dv], concat64(bInq.map((q) => q!.embeds)), 'intermediate',
        '(Q,T,Dv) text_proj(text_encoder(query_ids)) (padding rows unspecified)');
    }
    visionTensors(w, bRes, hasTe ? bQ.T : 1);
    w.f32('features', [bRes.features.length / v.outHiddenSize, v.outHiddenSize], bRes.features, 'output', '(N/4,out_hidden) merged tokens of all regions, region order');
  }

  // c_text_encoder: the first inquiry, unpadded.
  if (hasTe) {
    const ids = [...variant.regionGroups[0]!.inquiry];
    const mask = ids.map(() => 1);
    const te = refTextEncoder(weights, cfg, ids, mask);
    const Dt = cfg.textEncoder!.hiddenSize;
    const T = ids.length;
    const w = sc('c_text_encoder', 'Qwen3 text encoder (causal) on the inquiry ids, and text_proj');
    w.i64('query_ids', [1, T], ids, 'input', '(1,T) text-encoder token ids of the inquiry');
    w.i64('query_mask', [1, T], mask, 'input', '(1,T) attention mask (all ones)');
    te.layers.forEach((x, l) => w.f32(`layer${l}`, [1, T, Dt], x, 'intermediate', `(1,T,Dt) residual stream after text-encoder layer ${l} (before final norm)`));
    w.f32('last_hidden_state', [1, T, Dt], te.lastHiddenState, 'output', '(1,T,Dt) Qwen3Model last_hidden_state (after final RMSNorm)');
    w.f32('inquiry_embeds', [1, T, Dv], refTextProj(weights, cfg, te.lastHiddenState, T), 'output', '(1,T,Dv) text_proj(last_hidden_state): what the QA layers receive');
  }

  // d_prefill: a prompt with one image block per original, fed the stored (F32) a_vision features.
  const prompt = [tok('<|im_start|>'), ...textIds(3), ...orig.grids.flatMap((g) => [...block(g), ...textIds(1)]), ...textIds(2), tok('<|im_end|>'), tok('<|im_start|>'), ...textIds(2)];
  const dPos = refRopeIndex(prompt, orig.grids, v.mergeSize, L.imageTokenId, L.visionStartTokenId);
  const dRes = refLlmForward(weights, cfg, prompt, f64(aFeatures), dPos.positions);
  const H = L.hiddenSize;
  const V = L.vocabSize;
  {
    const Lp = prompt.length;
    const w = sc('d_prefill', 'LLM logits for a prompt containing the original image block(s)', { special_tokens: special });
    w.i64('input_ids', [Lp], prompt, 'input', '(L,) token ids; image blocks are <|vision_start|> <|image_pad|>*n <|vision_end|>');
    w.i64('image_grid_thw', [orig.grids.length, 3], orig.grids.flat(), 'input', '(n_images,3) grids of the image blocks, in order');
    w.f32('image_features', [aFeatures.length / H, H], aFeatures, 'input', '(n_pad,H) = a_vision.features, scattered into the <|image_pad|> slots in order');
    w.i64('position_ids', [3, Lp], dPos.positions, 'intermediate', '(3,L) M-RoPE (t,h,w) positions from get_rope_index');
    w.i64('rope_deltas', [1], [dPos.ropeDeltas], 'intermediate', 'max(position)+1-L');
    w.f32('inputs_embeds', [Lp, H], dRes.inputsEmbeds, 'intermediate', '(L,H) embeddings after the image-feature scatter');
    dRes.layers.forEach((x, l) => w.f32(`layer${l}`, [Lp, H], x, 'intermediate', `(L,H) residual stream after decoder layer ${l}`));
    w.f32('logits', [Lp, V], dRes.logits, 'output', '(L,vocab) full-sequence logits');
  }

  // e_second_turn: the turn-2 vision call (originals with dummy queries, then every region group with its inquiry)
  // and the appended tokens (assistant text, one image block per region, text) on the cached prefix.
  {
    const nO = variant.originals.length;
    const eSizes = [...variant.originals, ...regionSizes];
    const eGrids = [...orig.grids, ...regs.grids];
    const eMap = [...origMap, ...regionMap.map((k) => nO + k)];
    const eQ = padRows([...origMap.map(() => null), ...variant.regionGroups.map((g) => (hasTe ? g.inquiry : null))]);
    const Q = eQ.ids.length / eQ.T;
    const eInq = Array.from({ length: Q }, (_, q) => (q < nO || !hasTe ? null : inquiryOf(rowOf(eQ.ids, eQ.T, q), rowOf(eQ.mask, eQ.T, q)).inquiry));
    const ePixels = concatF32([orig.pixels, regs.pixels]);
    const eVis = refVisionForward(weights, cfg, f64(ePixels), eGrids, eMap, eInq);
    const eFeat = f32(eVis.features);
    const fresh = [...textIds(2), ...regs.grids.flatMap((g) => [...block(g), ...textIds(1)]), ...textIds(2)];
    const all = [...prompt, ...fresh];
    const full = refRopeIndex(all, eGrids, v.mergeSize, L.imageTokenId, L.visionStartTokenId);
    const Lp = prompt.length;
    const Ln = fresh.length;
    const cols = (from: number, to: number) => [0, 1, 2].flatMap((a) => Array.from(full.positions.subarray(a * (Lp + Ln) + from, a * (Lp + Ln) + to)));
    const nPrefixPad = prompt.filter((t) => t === L.imageTokenId).length;
    const feats = f64(eFeat);
    const pre = refLlmForward(weights, cfg, prompt, feats.slice(0, nPrefixPad * H), cols(0, Lp));
    const inc = refLlmForward(weights, cfg, fresh, feats.slice(nPrefixPad * H), cols(Lp, Lp + Ln), pre.cache);
    const fullRes = refLlmForward(weights, cfg, all, feats, full.positions);
    const w = sc('e_second_turn', 'second turn appended after the cached prompt: new image blocks with re-encoded regions', {
      prefix_len: Lp, new_len: Ln, image_to_query_mapping: eMap, image_sizes_wh: eSizes,
      max_abs_incremental_vs_full: maxAbsDiff(inc.logits, fullRes.logits.subarray(Lp * V)),
    });
    w.i64('prefix_ids', [Lp], prompt, 'input', '(Lp,) cached prefix = d_prefill.input_ids');
    w.i64('new_ids', [Ln], fresh, 'input', '(Ln,) appended tokens (assistant text, then one image block per region, then text)');
    w.i64('input_ids', [Lp + Ln], all, 'input', '(Lp+Ln,) full sequence');
    w.i64('image_grid_thw', [eGrids.length, 3], eGrids.flat(), 'input', '(n_images,3) all image blocks of the full sequence, in order');
    w.f32('vision_pixel_values', [ePixels.length / patchDim, patchDim], ePixels, 'input', '(N,1176) the turn-2 vision call: originals then regions');
    w.i64('vision_query_ids', [Q, eQ.T], eQ.ids, 'input', '(n_queries,T) one dummy all-<|endoftext|> query per original image, then the inquiries (right-padded)');
    w.i64('vision_query_mask', [Q, eQ.T], eQ.mask, 'input', '(n_queries,T) zero rows for the dummy queries');
    w.i64('vision_image_to_query_mapping', [eMap.length], eMap, 'input', '(n_images,)');
    w.f32('vision_features', [eFeat.length / H, H], eFeat, 'output', '(n_pad,H) turn-2 vision output');
    w.i64('position_ids', [3, Lp + Ln], full.positions, 'intermediate', '(3,Lp+Ln) M-RoPE positions of the full sequence');
    w.i64('rope_deltas', [1], [full.ropeDeltas], 'intermediate', 'max(position)+1-(Lp+Ln)');
    w.i64('new_position_ids', [3, Ln], cols(Lp, Lp + Ln), 'intermediate', '(3,Ln) positions of the appended tokens');
    w.f32('logits_incremental', [Ln, V], inc.logits, 'output', '(Ln,vocab) logits of the appended tokens computed with the prefix KV cache');
    w.f32('logits_full', [Lp + Ln, V], fullRes.logits, 'output', '(Lp+Ln,vocab) logits of a full recompute of the whole sequence');
  }

  // f_greedy: greedy decoding from d_prefill.
  {
    const steps = variant.greedySteps;
    let g;
    try {
      g = refGreedy(weights, cfg, prompt, f64(aFeatures), orig.grids, steps);
    } catch (e) {
      if (e instanceof RefError) throw new GoldenCaseError(`${variant.name}: greedy decoding failed (${e.message}); change the variant's seed`);
      throw e;
    }
    const w = sc('f_greedy', 'greedy decoding from d_prefill with the KV cache', {
      steps, first_generated_position: g.stepPositions[0], min_top2_margin: Math.min(...g.top2Margin),
    });
    w.i64('prompt_ids', [prompt.length], prompt, 'input', '(L,) = d_prefill.input_ids');
    w.i64('generated_ids', [steps], g.ids, 'output', `(${steps},) argmax tokens, no EOS stop`);
    w.f32('step_logits', [steps, V], g.stepLogits, 'output', '(steps,vocab) logits from which each generated token was taken (row 0 = last prompt row)');
    w.i64('step_positions', [steps], g.stepPositions, 'intermediate', 'M-RoPE position (same on t,h,w) of generated token i when it is fed back');
    w.f32('top2_margin', [steps], g.top2Margin, 'intermediate', '(steps,) top1-top2 logit gap per step (how robust the argmax is)');
  }

  // g_inquiry_padding: b's single inquiry padded left and right (the runner re-encodes b's regions with it, so
  // this scenario exists only when b has exactly one query group).
  if (hasTe && variant.regionGroups.length === 1) {
    const inq = variant.regionGroups[0]!.inquiry;
    const padTo = inq.length + 3;
    const Dt = cfg.textEncoder!.hiddenSize;
    const pads = Array<number>(padTo - inq.length).fill(eot);
    const sides = {
      left: { ids: [...pads, ...inq], mask: [...pads.map(() => 0), ...inq.map(() => 1)] },
      right: { ids: [...inq, ...pads], mask: [...inq.map(() => 1), ...pads.map(() => 0)] },
    };
    const w = sc('g_inquiry_padding', 'the same inquiry padded to a fixed length, left and right', {
      pad_to: padTo, pad_id: eot,
      note: 'positions are arange(Tp) for both the text encoder and the inquiry RoPE, so left padding shifts them by the pad count and changes the result; right padding does not.',
    });
    for (const side of ['left', 'right'] as const) {
      const { ids, mask } = sides[side];
      const { inquiry, last } = inquiryOf(ids, mask);
      const res = refVisionForward(weights, cfg, f64(regs.pixels), regs.grids, regionMap, [inquiry]);
      w.i64(`${side}_ids`, [1, padTo], ids, 'input', `(1,Tp) <|endoftext|> padding ${side === 'left' ? 'first' : 'last'}`);
      w.i64(`${side}_mask`, [1, padTo], mask, 'input', '(1,Tp)');
      w.f32(`${side}_last_hidden_state`, [1, padTo, Dt], last, 'output', '(1,Tp,Dt) padding rows are not used by the model');
      w.f32(`${side}_features`, [res.features.length / v.outHiddenSize, v.outHiddenSize], res.features, 'output', `re-encode of b_reencode regions with the ${side}-padded inquiry`);
    }
  }

  return { variant, checkpointFiles: files, specialTokens: special, scenarios };
}

async function weightsOf(files: readonly { name: string; bytes: Uint8Array }[]): Promise<RefWeights> {
  const out: RefWeights = { tensors: new Map(), shapes: new Map() };
  for (const f of files) {
    if (!f.name.endsWith('.safetensors')) continue;
    const file = await SafetensorsFile.open(bytesSource(f.bytes, f.name));
    for (const name of file.names) {
      // bf16 widens exactly to f32 and then to f64.
      out.tensors.set(name, Float64Array.from(await file.readF32(name)));
      out.shapes.set(name, [...file.info(name).shape]);
    }
  }
  return out;
}

function concat64(parts: readonly Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

// ---- writing -----------------------------------------------------------------------------------------------

function tensorBytes(t: CaseTensor): Uint8Array {
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (t.data.length !== n) throw new GoldenCaseError(`${t.name}: ${t.data.length} values for shape [${t.shape}]`);
  if (t.dtype === 'F32') return new Uint8Array(Float32Array.from(t.data).buffer);
  if (t.dtype === 'U8') return Uint8Array.from(t.data);
  return new Uint8Array(BigInt64Array.from(Array.from(t.data, (x) => BigInt(x))).buffer);
}

/** Writes DIR/scenarios.json, DIR/<scenario>.safetensors, DIR/checkpoint/* and a short DIR/README.md. */
export async function writeGoldenCase(dir: string, c: GoldenCase): Promise<void> {
  await mkdir(join(dir, 'checkpoint'), { recursive: true });
  for (const f of c.checkpointFiles) await writeFile(join(dir, 'checkpoint', f.name), f.bytes);
  const scenarios: Record<string, unknown> = {};
  for (const s of c.scenarios) {
    const file = `${s.name}.safetensors`;
    const enc: TensorToEncode[] = s.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, data: tensorBytes(t) }));
    await writeFile(join(dir, file), encodeSafetensors(enc, { producer: 'test/reference/golden-case.ts' }));
    scenarios[s.name] = {
      file, title: s.title, params: s.params,
      tensors: Object.fromEntries(s.tensors.map((t) => [t.name, { dtype: t.dtype, shape: t.shape, role: t.role, desc: t.desc }])),
    };
  }
  const meta = {
    case: c.variant.name,
    producer: 'test/reference/golden-case.ts: float64 reference test/reference/reference.ts on a generated checkpoint',
    about: c.variant.about,
    checkpoint: 'checkpoint/',
    conventions: {
      image_sizes: '(width, height) in pixels where a param name ends in _wh; arrays are (H, W, 3)',
      float_dtype: 'F32 (computed in float64 from the stored F32/I64 inputs, rounded once when written)',
      vision_order: "features are in image order, each image's merged tokens row-major; block<i> intermediates are in window-permuted order",
      special_tokens: c.specialTokens,
    },
    scenarios,
  };
  await writeFile(join(dir, 'scenarios.json'), JSON.stringify(meta, null, 2) + '\n');
  const lines = [
    `# Generated golden case: ${c.variant.name}`, '',
    c.variant.about, '',
    'Written by `test/reference/make-golden-case.ts`; expected values come from the float64 reference in',
    '`test/reference/reference.ts` (ours, not the independent oracle of tiny-a). Same file format as',
    '`test/fixtures/golden/tiny-a` (see its README for the tensor meanings); images are stored only as `*_u8`',
    'tensors. Run with `npm run golden -- DIR`.', '',
    ...c.scenarios.map((s) => `- \`${s.name}\`: ${s.title}`), '',
  ];
  await writeFile(join(dir, 'README.md'), lines.join('\n'));
}
