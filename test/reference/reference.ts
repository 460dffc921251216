// Float64 reference of the whole ViLaVT model (test-only oracle for checkpoints we generate ourselves).
// The integer bookkeeping below is a literal translation of the authors' PyTorch code
// (modeling_vilavt_v4_3_verl.py: rot_pos_emb_multi_image, get_window_index, the QA table loop, get_rope_index),
// written with generic reshape/permute helpers on purpose: it is independent of src/model/vision-plan.ts and
// src/model/mrope.ts, which the tests compare against it.

import {
  RefError, refAdd, refApplyRotary, refCausalAttention, refGelu, refMatmul, refMropeTable, refRmsNorm,
  refRopeTable1d, refRopeTable2d, refSegmentedAttention, refSilu,
} from './ops.js';
import { refWeight, type RefConfig, type RefTextEncoderConfig, type RefWeights } from './weights.js';

export * from './ops.js';
export * from './weights.js';

// ---- literal integer bookkeeping ---------------------------------------------------------------------------

/** torch `x.reshape(shape).permute(perm)` flattened (row-major), for integer data. */
function permuteFlat(data: readonly number[], shape: readonly number[], perm: readonly number[]): number[] {
  const n = data.length;
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const outShape = perm.map((p) => shape[p]!);
  const out = new Array<number>(n);
  const idx = new Array<number>(outShape.length).fill(0);
  for (let o = 0; o < n; o++) {
    let src = 0;
    for (let d = 0; d < idx.length; d++) src += idx[d]! * strides[perm[d]!]!;
    out[o] = data[src]!;
    for (let d = idx.length - 1; d >= 0; d--) {
      if (++idx[d]! < outShape[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
}

const arange = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

export interface RefVisionIndexing {
  /** [N, 2] (row, col), processor order. */
  posIds: number[];
  windowIndex: number[];
  cuWindowSeqlens: number[];
  cuSeqlens: number[];
  cuSeqlensQ: number[];
  cuSeqlensK: number[];
  /** Per group: sum of max(gh, gw) of its images (= inquiry position of padded slot 0). */
  groupMaxPos: number[];
}

/**
 * Integer intermediates of one ViT call. `validTokens[g]` = sum of group g's inquiry mask (0 without inquiry).
 */
export function refVisionIndexing(grids: readonly (readonly number[])[], imageGroup: readonly number[],
  validTokens: readonly number[], windowSize: number, patchSize: number, mergeSize: number): RefVisionIndexing {
  const m = mergeSize;
  // rot_pos_emb_multi_image
  const posIds: number[] = [];
  let maxPosOffset = 0;
  grids.forEach(([t, h, w], idx) => {
    if (idx === 0 || imageGroup[idx] !== imageGroup[idx - 1]) maxPosOffset = 0;
    const hpos = arange(h! * w!).map((i) => Math.floor(i / w!) + maxPosOffset);
    const wpos = arange(h! * w!).map((i) => (i % w!) + maxPosOffset);
    const shape = [h! / m, m, w! / m, m];
    const hp = permuteFlat(hpos, shape, [0, 2, 1, 3]);
    const wp = permuteFlat(wpos, shape, [0, 2, 1, 3]);
    for (let f = 0; f < t!; f++) for (let i = 0; i < hp.length; i++) posIds.push(hp[i]!, wp[i]!);
    maxPosOffset += Math.max(h!, w!);
  });

  // get_window_index
  const windowIndex: number[] = [];
  const cuWin: number[] = [0];
  let windowIndexId = 0;
  const vws = Math.floor(Math.floor(windowSize / m) / patchSize);
  for (const [t, gh, gw] of grids) {
    const lh = gh! / m;
    const lw = gw! / m;
    const padH = vws - (lh % vws);
    const padW = vws - (lw % vws);
    const nwh = (lh + padH) / vws;
    const nww = (lw + padW) / vws;
    const padded: number[] = [];
    for (let f = 0; f < t!; f++) {
      for (let r = 0; r < lh + padH; r++) {
        for (let c = 0; c < lw + padW; c++) padded.push(r < lh && c < lw ? (f * lh + r) * lw + c : -100);
      }
    }
    const win = permuteFlat(padded, [t!, nwh, vws, nww, vws], [0, 1, 3, 2, 4]); // (t, nwh*nww, vws, vws)
    const seqlens: number[] = [];
    for (let s = 0; s < t! * nwh * nww; s++) {
      seqlens.push(win.slice(s * vws * vws, (s + 1) * vws * vws).filter((x) => x !== -100).length);
    }
    for (const x of win) if (x !== -100) windowIndex.push(x + windowIndexId);
    const base = cuWin[cuWin.length - 1]!;
    let cum = 0;
    for (const s of seqlens) {
      cum += s;
      cuWin.push(cum * m * m + base);
    }
    windowIndexId += t! * lh * lw;
  }
  const cuWindowSeqlens = cuWin.filter((x, i) => i === 0 || x !== cuWin[i - 1]); // unique_consecutive

  // cu_seqlens: repeat_interleave(h*w, t).cumsum, padded with a leading 0
  const cuSeqlens = [0];
  for (const [t, h, w] of grids) for (let f = 0; f < t!; f++) cuSeqlens.push(cuSeqlens[cuSeqlens.length - 1]! + h! * w!);

  // QA tables: query_to_image_mapping over range(max + 1)
  const nq = Math.max(...imageGroup) + 1;
  const cuSeqlensQ = [0];
  const cuSeqlensK = [0];
  const groupMaxPos: number[] = [];
  for (let q = 0; q < nq; q++) {
    let offset = 0;
    let maxGrid = 0;
    grids.forEach(([t, h, w], img) => {
      if (imageGroup[img] !== q) return;
      offset += t! * h! * w!;
      maxGrid += Math.max(h!, w!);
    });
    cuSeqlensQ.push(cuSeqlensQ[cuSeqlensQ.length - 1]! + offset);
    cuSeqlensK.push(cuSeqlensK[cuSeqlensK.length - 1]! + offset + validTokens[q]!);
    groupMaxPos.push(maxGrid);
  }
  return { posIds, windowIndex, cuWindowSeqlens, cuSeqlens, cuSeqlensQ, cuSeqlensK, groupMaxPos };
}

/** Literal get_rope_index for one unpadded sequence of still images: positions [3, L] and rope_deltas. */
export function refRopeIndex(ids: readonly number[], gridsThw: readonly (readonly number[])[], mergeSize: number,
  imageTokenId: number, visionStartTokenId: number): { positions: Int32Array; ropeDeltas: number } {
  let imageNums = 0;
  ids.forEach((id, i) => {
    if (id === visionStartTokenId && ids[i + 1] === imageTokenId) imageNums++;
  });
  const chunks: number[][][] = []; // each [3][n]
  let st = 0;
  let imageIndex = 0;
  const chunkMax = (c: number[][]): number => Math.max(...c.flat());
  for (let k = 0; k < imageNums; k++) {
    const ed = ids.indexOf(imageTokenId, st);
    const [, h, w] = gridsThw[imageIndex++]!;
    const lh = h! / mergeSize;
    const lw = w! / mergeSize;
    const textLen = ed - st;
    const stIdx = chunks.length > 0 ? chunkMax(chunks[chunks.length - 1]!) + 1 : 0;
    chunks.push([0, 1, 2].map(() => arange(textLen).map((i) => i + stIdx)));
    const tIdx = arange(lh * lw).map(() => 0);
    const hIdx = arange(lh * lw).map((i) => Math.floor(i / lw));
    const wIdx = arange(lh * lw).map((i) => i % lw);
    chunks.push([tIdx, hIdx, wIdx].map((row) => row.map((x) => x + textLen + stIdx)));
    st = ed + lh * lw;
  }
  if (st < ids.length) {
    const stIdx = chunks.length > 0 ? chunkMax(chunks[chunks.length - 1]!) + 1 : 0;
    chunks.push([0, 1, 2].map(() => arange(ids.length - st).map((i) => i + stIdx)));
  }
  const L = ids.length;
  const positions = new Int32Array(3 * L);
  let col = 0;
  for (const c of chunks) {
    for (let a = 0; a < 3; a++) positions.set(c[a]!, a * L + col);
    col += c[0]!.length;
  }
  const max = L > 0 ? Math.max(...positions) : -1;
  return { positions, ropeDeltas: max + 1 - L };
}

// ---- vision encoder ----------------------------------------------------------------------------------------

/** A group's inquiry: text_proj output E [T, Dv] and its mask [T] (1 = valid slot). */
export interface RefInquiry {
  embeds: Float64Array;
  mask: readonly number[];
}

export interface RefVisionResult {
  indexing: RefVisionIndexing;
  /** [N, Dv] processor order. */
  patchEmbed: Float64Array;
  /** Hidden state after each block, [N, Dv], window-permuted order. */
  blocks: Float64Array[];
  /** [N/4, out] merger output before un-permutation. */
  mergedWindowOrder: Float64Array;
  /** [N/4, out] image order, raster over each merged grid. */
  features: Float64Array;
}

/** QA-block test of the authors' __init__ (integration_point). */
function isQaLayer(layer: number, depth: number, ip: string | null, fullatt: readonly number[]): boolean {
  return ip === 'all' || (ip === 'early' && layer < Math.floor(depth / 2)) ||
    (ip === 'late' && layer >= Math.floor(depth / 2)) || (ip === 'late2' && layer >= Math.floor((3 * depth) / 4)) ||
    (ip === 'late3' && layer >= Math.floor(depth / 4)) || (ip === 'sparse' && fullatt.includes(layer));
}

/** Gathers merged units (unit rows of `width`) by `index`. */
function gatherUnits(x: Float64Array, index: readonly number[], unit: number, width: number): Float64Array {
  const y = new Float64Array(x.length);
  const stride = unit * width;
  index.forEach((src, i) => y.set(x.subarray(src * stride, (src + 1) * stride), i * stride));
  return y;
}

/**
 * One ViT call. `inquiries[g]` is group g's inquiry (null = no inquiry: zero text keys). Images of a group must be
 * contiguous with increasing group ids, as in the authors' code.
 */
export function refVisionForward(weights: RefWeights, config: RefConfig, pixelValues: Float64Array,
  grids: readonly (readonly number[])[], imageGroup: readonly number[],
  inquiries: readonly (RefInquiry | null)[]): RefVisionResult {
  const c = config.vision;
  const D = c.hiddenSize;
  const H = c.numHeads;
  const hd = D / H;
  const unit = c.mergeSize * c.mergeSize;
  const patchDim = c.inChannels * c.temporalPatchSize * c.patchSize * c.patchSize;
  const N = pixelValues.length / patchDim;
  const nTok = grids.reduce((s, [t, h, w]) => s + t! * h! * w!, 0);
  if (N !== nTok) throw new RefError(`pixel_values has ${N} patches, grids need ${nTok}`);
  const G = Math.max(...imageGroup) + 1;
  if (inquiries.length !== G) throw new RefError(`${inquiries.length} inquiries for ${G} groups`);
  const valid = inquiries.map((q) => (q ? q.mask.filter((x) => x !== 0).length : 0));
  const ix = refVisionIndexing(grids, imageGroup, valid, c.windowSize, c.patchSize, c.mergeSize);

  const patchEmbed = refMatmul(pixelValues, refWeight(weights, 'visual.patch_embed.proj.weight'), N, patchDim, D);
  const rope = refRopeTable2d(ix.posIds, hd, c.ropeTheta);
  const ropeW = {
    cos: gatherUnits(rope.cos, ix.windowIndex, unit, hd),
    sin: gatherUnits(rope.sin, ix.windowIndex, unit, hd),
  };
  let x = gatherUnits(patchEmbed, ix.windowIndex, unit, D);
  /** Linear layer with bias: weights `${name}.weight` [outDim, inDim] and `${name}.bias`. */
  const linear = (name: string, a: Float64Array, rows: number, inDim: number, outDim: number): Float64Array =>
    refMatmul(a, refWeight(weights, name + '.weight'), rows, inDim, outDim, refWeight(weights, name + '.bias'));

  const blocks: Float64Array[] = [];
  for (let i = 0; i < c.depth; i++) {
    const p = `visual.blocks.${i}.`;
    const h = refRmsNorm(x, refWeight(weights, p + 'norm1.weight'), N, D, c.eps);
    const qkv = linear(p + 'attn.qkv', h, N, D, 3 * D);
    let q: Float64Array = new Float64Array(N * D);
    let k: Float64Array = new Float64Array(N * D);
    let v = new Float64Array(N * D);
    for (let r = 0; r < N; r++) {
      q.set(qkv.subarray(r * 3 * D, r * 3 * D + D), r * D);
      k.set(qkv.subarray(r * 3 * D + D, r * 3 * D + 2 * D), r * D);
      v.set(qkv.subarray(r * 3 * D + 2 * D, r * 3 * D + 3 * D), r * D);
    }
    q = refApplyRotary(q, ropeW, N, H, hd);
    k = refApplyRotary(k, ropeW, N, H, hd);
    let attn: Float64Array;
    if (isQaLayer(i, c.depth, c.integrationPoint, c.fullattBlockIndexes)) {
      // Keys/values per group: the group's image rows, then its valid inquiry rows (RoPE on keys only).
      const ks: Float64Array[] = [];
      const vs: Float64Array[] = [];
      for (let g = 0; g < G; g++) {
        ks.push(k.subarray(ix.cuSeqlensQ[g]! * D, ix.cuSeqlensQ[g + 1]! * D));
        vs.push(v.subarray(ix.cuSeqlensQ[g]! * D, ix.cuSeqlensQ[g + 1]! * D));
        const inq = inquiries[g];
        if (!inq) continue;
        const T = inq.mask.length;
        if (inq.embeds.length !== T * D) throw new RefError(`inquiry ${g} embeds must be [${T}, ${D}]`);
        let kt = linear(p + 'attn.instruct_key_proj', inq.embeds, T, D, D);
        const vt = linear(p + 'attn.instruct_value_proj', inq.embeds, T, D, D);
        const tpos = arange(T).flatMap((j) => [ix.groupMaxPos[g]! + j, ix.groupMaxPos[g]! + j]);
        kt = refApplyRotary(kt, refRopeTable2d(tpos, hd, c.ropeTheta), T, H, hd);
        for (let j = 0; j < T; j++) {
          if (inq.mask[j] === 0) continue;
          ks.push(kt.subarray(j * D, (j + 1) * D));
          vs.push(vt.subarray(j * D, (j + 1) * D));
        }
      }
      const cat = (parts: Float64Array[]): Float64Array => {
        const out = new Float64Array(parts.reduce((s, a) => s + a.length, 0));
        let o = 0;
        for (const a of parts) { out.set(a, o); o += a.length; }
        return out;
      };
      attn = refSegmentedAttention(q, cat(ks), cat(vs), ix.cuSeqlensQ, ix.cuSeqlensK, H, H, hd);
    } else {
      const cu = c.fullattBlockIndexes.includes(i) ? ix.cuSeqlens : ix.cuWindowSeqlens;
      attn = refSegmentedAttention(q, k, v, cu, cu, H, H, hd);
    }
    x = refAdd(x, linear(p + 'attn.proj', attn, N, D, D));
    const h2 = refRmsNorm(x, refWeight(weights, p + 'norm2.weight'), N, D, c.eps);
    const I = c.intermediateSize;
    const gate = refSilu(linear(p + 'mlp.gate_proj', h2, N, D, I));
    const up = linear(p + 'mlp.up_proj', h2, N, D, I);
    x = refAdd(x, linear(p + 'mlp.down_proj', gate.map((g, j) => g * up[j]!), N, I, D));
    blocks.push(x);
  }

  const nm = N / unit;
  const y = refRmsNorm(x, refWeight(weights, 'visual.merger.ln_q.weight'), N, D, c.eps); // [N, D] = [nm, unit*D]
  const h1 = refGelu(linear('visual.merger.mlp.0', y, nm, unit * D, unit * D));
  const out = c.outHiddenSize;
  const mergedWindowOrder = linear('visual.merger.mlp.2', h1, nm, unit * D, out);
  const features = new Float64Array(nm * out);
  ix.windowIndex.forEach((dst, i) => features.set(mergedWindowOrder.subarray(i * out, (i + 1) * out), dst * out));
  return { indexing: ix, patchEmbed, blocks, mergedWindowOrder, features };
}

// ---- text encoder (Qwen3, causal) and text_proj --------------------------------------------------------------

export interface RefTextEncoderResult {
  /** Residual stream after each layer, [T, Dt]. */
  layers: Float64Array[];
  /** After the final norm, [T, Dt]. */
  lastHiddenState: Float64Array;
}

/** One sequence: ids [T], mask [T] (padding keys masked; positions arange(T) whatever the padding). */
export function refTextEncoder(weights: RefWeights, config: RefConfig, ids: readonly number[],
  mask: readonly number[]): RefTextEncoderResult {
  const c = textEncoderOf(config);
  const T = ids.length;
  if (mask.length !== T) throw new RefError('ids and mask lengths differ');
  const D = c.hiddenSize;
  const hd = c.headDim;
  const emb = refWeight(weights, 'text_encoder.embed_tokens.weight');
  let x: Float64Array = new Float64Array(T * D);
  ids.forEach((id, t) => {
    if (!Number.isInteger(id) || id < 0 || (id + 1) * D > emb.length) throw new RefError(`token id ${id} out of range`);
    x.set(emb.subarray(id * D, (id + 1) * D), t * D);
  });
  const rope = refRopeTable1d(arange(T), hd, c.ropeTheta);
  const layers: Float64Array[] = [];
  for (let l = 0; l < c.numLayers; l++) {
    const p = `text_encoder.layers.${l}.`;
    const h = refRmsNorm(x, refWeight(weights, p + 'input_layernorm.weight'), T, D, c.eps);
    let q = refMatmul(h, refWeight(weights, p + 'self_attn.q_proj.weight'), T, D, c.numHeads * hd);
    let k = refMatmul(h, refWeight(weights, p + 'self_attn.k_proj.weight'), T, D, c.numKvHeads * hd);
    const v = refMatmul(h, refWeight(weights, p + 'self_attn.v_proj.weight'), T, D, c.numKvHeads * hd);
    q = refRmsNorm(q, refWeight(weights, p + 'self_attn.q_norm.weight'), T * c.numHeads, hd, c.eps);
    k = refRmsNorm(k, refWeight(weights, p + 'self_attn.k_norm.weight'), T * c.numKvHeads, hd, c.eps);
    q = refApplyRotary(q, rope, T, c.numHeads, hd);
    k = refApplyRotary(k, rope, T, c.numKvHeads, hd);
    const attn = refCausalAttention(q, k, v, c.numHeads, c.numKvHeads, hd, { keyMask: mask });
    x = refAdd(x, refMatmul(attn, refWeight(weights, p + 'self_attn.o_proj.weight'), T, c.numHeads * hd, D));
    x = refAdd(x, swiglu(weights, p, refRmsNorm(x, refWeight(weights, p + 'post_attention_layernorm.weight'), T, D, c.eps),
      T, D, c.intermediateSize));
    layers.push(x);
  }
  return { layers, lastHiddenState: refRmsNorm(x, refWeight(weights, 'text_encoder.norm.weight'), T, D, c.eps) };
}

function textEncoderOf(config: RefConfig): RefTextEncoderConfig {
  if (!config.textEncoder) throw new RefError('this checkpoint has no text encoder (plain qwen2_5_vl)');
  return config.textEncoder;
}

/** Bias-free gated MLP down(silu(gate(x)) ⊙ up(x)) of the LLM and the text encoder. */
function swiglu(weights: RefWeights, p: string, x: Float64Array, rows: number, D: number, I: number): Float64Array {
  const gate = refSilu(refMatmul(x, refWeight(weights, p + 'mlp.gate_proj.weight'), rows, D, I));
  const up = refMatmul(x, refWeight(weights, p + 'mlp.up_proj.weight'), rows, D, I);
  return refMatmul(gate.map((g, j) => g * up[j]!), refWeight(weights, p + 'mlp.down_proj.weight'), rows, I, D);
}

/** text_proj: [rows, Dt] -> [rows, Dv]. */
export function refTextProj(weights: RefWeights, config: RefConfig, x: Float64Array, rows: number): Float64Array {
  return refMatmul(x, refWeight(weights, 'text_proj.weight'), rows, textEncoderOf(config).hiddenSize,
    config.vision.hiddenSize, refWeight(weights, 'text_proj.bias'));
}

// ---- LLM ---------------------------------------------------------------------------------------------------

/** Per-layer rotated keys and values of every token seen so far ([len, kvHeads·headDim] each). */
export class RefKvCache {
  readonly k: Float64Array[] = [];
  readonly v: Float64Array[] = [];
  length = 0;

  append(layer: number, k: Float64Array, v: Float64Array): { k: Float64Array; v: Float64Array } {
    const cat = (a: Float64Array | undefined, b: Float64Array): Float64Array => {
      if (!a) return b.slice();
      const out = new Float64Array(a.length + b.length);
      out.set(a);
      out.set(b, a.length);
      return out;
    };
    this.k[layer] = cat(this.k[layer], k);
    this.v[layer] = cat(this.v[layer], v);
    return { k: this.k[layer]!, v: this.v[layer]! };
  }
}

export interface RefLlmResult {
  /** [L, H] after the image-feature scatter. */
  inputsEmbeds: Float64Array;
  /** Residual stream after each decoder layer, [L, H]. */
  layers: Float64Array[];
  /** [L, vocab]. */
  logits: Float64Array;
  cache: RefKvCache;
}

/**
 * Forward over `ids` (appended after whatever `cache` holds). `imageFeatures` [nPad, H] replace the embeddings of
 * the <|image_pad|> tokens of `ids`, in order. positions: [3, L] M-RoPE ids.
 */
export function refLlmForward(weights: RefWeights, config: RefConfig, ids: readonly number[],
  imageFeatures: Float64Array | null, positions: ArrayLike<number>, cache = new RefKvCache()): RefLlmResult {
  const c = config.llm;
  const L = ids.length;
  const D = c.hiddenSize;
  const hd = c.headDim;
  const kvDim = c.numKvHeads * hd;
  if (positions.length !== 3 * L) throw new RefError(`positions must be [3, ${L}]`);
  const emb = refWeight(weights, 'model.embed_tokens.weight');
  const x0 = new Float64Array(L * D);
  let pad = 0;
  const nPad = imageFeatures ? imageFeatures.length / D : 0;
  ids.forEach((id, t) => {
    if (id === c.imageTokenId) {
      if (!imageFeatures || pad >= nPad) throw new RefError(`more <|image_pad|> tokens than image feature rows (${nPad})`);
      x0.set(imageFeatures.subarray(pad * D, (pad + 1) * D), t * D);
      pad++;
    } else {
      if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize) throw new RefError(`token id ${id} out of range`);
      x0.set(emb.subarray(id * D, (id + 1) * D), t * D);
    }
  });
  if (pad !== nPad) throw new RefError(`${nPad} image feature rows for ${pad} <|image_pad|> tokens`);
  const rope = refMropeTable(positions, hd, c.ropeTheta, c.mropeSection);
  let x: Float64Array = x0;
  const layers: Float64Array[] = [];
  for (let l = 0; l < c.numLayers; l++) {
    const p = `model.layers.${l}.`;
    const h = refRmsNorm(x, refWeight(weights, p + 'input_layernorm.weight'), L, D, c.eps);
    const q = refApplyRotary(refMatmul(h, refWeight(weights, p + 'self_attn.q_proj.weight'), L, D, c.numHeads * hd,
      refWeight(weights, p + 'self_attn.q_proj.bias')), rope, L, c.numHeads, hd);
    const k = refApplyRotary(refMatmul(h, refWeight(weights, p + 'self_attn.k_proj.weight'), L, D, kvDim,
      refWeight(weights, p + 'self_attn.k_proj.bias')), rope, L, c.numKvHeads, hd);
    const v = refMatmul(h, refWeight(weights, p + 'self_attn.v_proj.weight'), L, D, kvDim,
      refWeight(weights, p + 'self_attn.v_proj.bias'));
    const all = cache.append(l, k, v);
    const attn = refCausalAttention(q, all.k, all.v, c.numHeads, c.numKvHeads, hd);
    x = refAdd(x, refMatmul(attn, refWeight(weights, p + 'self_attn.o_proj.weight'), L, c.numHeads * hd, D));
    x = refAdd(x, swiglu(weights, p, refRmsNorm(x, refWeight(weights, p + 'post_attention_layernorm.weight'), L, D, c.eps),
      L, D, c.intermediateSize));
    layers.push(x);
  }
  cache.length += L;
  const hN = refRmsNorm(x, refWeight(weights, 'model.norm.weight'), L, D, c.eps);
  const head = c.tieWordEmbeddings ? emb : refWeight(weights, 'lm_head.weight');
  return { inputsEmbeds: x0, layers, logits: refMatmul(hN, head, L, D, c.vocabSize), cache };
}

export interface RefGreedyResult {
  ids: number[];
  /** [steps, vocab]: row i = logits the i-th token was taken from (row 0 = last prompt row). */
  stepLogits: Float64Array;
  /** M-RoPE position (t = h = w) of generated token i when fed back. */
  stepPositions: number[];
  /** top1 - top2 logit per step. */
  top2Margin: number[];
}

/** Greedy decoding with the KV cache, no EOS stop. gridsThw: the prompt's image grids, in order. */
export function refGreedy(weights: RefWeights, config: RefConfig, promptIds: readonly number[],
  imageFeatures: Float64Array | null, gridsThw: readonly (readonly number[])[], steps: number): RefGreedyResult {
  const c = config.llm;
  const V = c.vocabSize;
  const { positions, ropeDeltas } = refRopeIndex(promptIds, gridsThw, config.vision.mergeSize, c.imageTokenId,
    c.visionStartTokenId);
  let res = refLlmForward(weights, config, promptIds, imageFeatures, positions);
  let last = res.logits.subarray(res.logits.length - V);
  const ids: number[] = [];
  const stepLogits = new Float64Array(steps * V);
  const stepPositions: number[] = [];
  const top2Margin: number[] = [];
  for (let s = 0; s < steps; s++) {
    stepLogits.set(last, s * V);
    let best = 0;
    for (let j = 1; j < V; j++) if (last[j]! > last[best]!) best = j;
    let second = -Infinity;
    for (let j = 0; j < V; j++) if (j !== best && last[j]! > second) second = last[j]!;
    ids.push(best);
    top2Margin.push(last[best]! - second);
    const pos = promptIds.length + s + ropeDeltas;
    stepPositions.push(pos);
    if (s + 1 < steps) {
      res = refLlmForward(weights, config, [best], null, [pos, pos, pos], res.cache);
      last = res.logits;
    }
  }
  return { ids, stepLogits, stepPositions, top2Margin };
}
