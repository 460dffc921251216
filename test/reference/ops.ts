// Float64 operator references (test-only). Row-major Float64Array everywhere; linear weights in PyTorch
// [out, in] layout. Kernel tests use these directly, so every function takes arbitrary dims.
// erf / erfc / GELU, matmul, RMSNorm and attention are the product references (src/reference/): one implementation,
// wrapped here with this oracle's Float64Array signatures and shape checks.
export { refErf, refErfc, refGelu } from '../../src/reference/activation.js';
import { refLinear } from '../../src/reference/matmul.js';
import { refRmsNorm as productRmsNorm } from '../../src/reference/rmsnorm.js';
import { refCausalAttention as productCausal, refSegmentedAttention as productSegmented } from '../../src/reference/attention.js';

export class RefError extends Error {
  override readonly name = 'RefError';
}

function expectLength(a: ArrayLike<number>, n: number, what: string): void {
  if (a.length !== n) throw new RefError(`${what}: expected ${n} elements, got ${a.length}`);
}

/** Y[rows, outDim] = X[rows, inDim] · Wᵀ (+ b), W is [outDim, inDim] (the product reference, length-checked). */
export function refMatmul(x: Float64Array, w: Float64Array, rows: number, inDim: number, outDim: number,
  bias?: Float64Array): Float64Array {
  expectLength(x, rows * inDim, 'refMatmul x');
  expectLength(w, outDim * inDim, 'refMatmul w');
  if (bias) expectLength(bias, outDim, 'refMatmul bias');
  return refLinear(x, w, bias ?? null, rows, outDim, inDim);
}

/** y = w ⊙ x / sqrt(mean(x²) + eps) over the last dim (rows of `dim`). */
export function refRmsNorm(x: Float64Array, weight: Float64Array, rows: number, dim: number, eps: number): Float64Array {
  expectLength(x, rows * dim, 'refRmsNorm x');
  expectLength(weight, dim, 'refRmsNorm weight');
  return productRmsNorm(x, weight, rows, dim, eps).y;
}

export function refAdd(a: Float64Array, b: Float64Array): Float64Array {
  expectLength(b, a.length, 'refAdd');
  return a.map((v, i) => v + b[i]!);
}

// ---- erf / GELU / SiLU -------------------------------------------------------------------------------------

/** x·sigmoid(x). */
export function refSilu(x: Float64Array): Float64Array {
  return x.map((v) => v / (1 + Math.exp(-v)));
}

// ---- rotary embeddings -------------------------------------------------------------------------------------

export interface RopeTable {
  /** [rows, headDim] */
  cos: Float64Array;
  sin: Float64Array;
}

/** inv_freq[f] = theta^(-2f/dim), f = 0..dim/2-1 (HF `1 / theta ** (arange(0, dim, 2) / dim)`). */
export function refInvFreq(dim: number, theta: number): Float64Array {
  if (dim % 2 !== 0) throw new RefError(`rotary dim ${dim} must be even`);
  const out = new Float64Array(dim / 2);
  for (let f = 0; f < dim / 2; f++) out[f] = 1 / theta ** ((2 * f) / dim);
  return out;
}

/** Table from per-row half-angle vectors θ [rows, headDim/2]: emb = [θ, θ]. */
function tableFromAngles(angles: Float64Array, rows: number, headDim: number): RopeTable {
  const half = headDim / 2;
  const cos = new Float64Array(rows * headDim);
  const sin = new Float64Array(rows * headDim);
  for (let r = 0; r < rows; r++) {
    for (let d = 0; d < headDim; d++) {
      const a = angles[r * half + (d % half)]!;
      cos[r * headDim + d] = Math.cos(a);
      sin[r * headDim + d] = Math.sin(a);
    }
  }
  return { cos, sin };
}

/** 1-D RoPE table (Qwen3 text encoder): θ = pos·inv_freq(headDim). pos: [rows]. */
export function refRopeTable1d(pos: ArrayLike<number>, headDim: number, theta: number): RopeTable {
  const inv = refInvFreq(headDim, theta);
  const rows = pos.length;
  const half = headDim / 2;
  const angles = new Float64Array(rows * half);
  for (let r = 0; r < rows; r++) for (let f = 0; f < half; f++) angles[r * half + f] = pos[r]! * inv[f]!;
  return tableFromAngles(angles, rows, headDim);
}

/**
 * Vision 2-D RoPE table (Qwen2.5-VL ViT): inv_freq over rotary dim headDim/2, θ = [row·inv, col·inv],
 * emb = [θ, θ] (so emb = [row·f, col·f, row·f, col·f], f = theta^(-4i/headDim)). pos: [rows, 2] (row, col).
 */
export function refRopeTable2d(pos: ArrayLike<number>, headDim: number, theta: number): RopeTable {
  if (headDim % 4 !== 0) throw new RefError(`vision head dim ${headDim} must be a multiple of 4`);
  if (pos.length % 2 !== 0) throw new RefError('vision rotary positions must be [rows, 2]');
  const inv = refInvFreq(headDim / 2, theta);
  const rows = pos.length / 2;
  const q = headDim / 4;
  const half = headDim / 2;
  const angles = new Float64Array(rows * half);
  for (let r = 0; r < rows; r++) {
    for (let f = 0; f < q; f++) {
      angles[r * half + f] = pos[2 * r]! * inv[f]!;
      angles[r * half + q + f] = pos[2 * r + 1]! * inv[f]!;
    }
  }
  return tableFromAngles(angles, rows, headDim);
}

/**
 * M-RoPE table (Qwen2.5-VL LLM): pos [3, rows] (t row, h row, w row); frequency slot f of headDim/2 takes its
 * position from t, h or w by `section` (sum = headDim/2), cos/sin duplicated to headDim (= mrope_section*2 split).
 */
export function refMropeTable(pos: ArrayLike<number>, headDim: number, theta: number,
  section: readonly number[]): RopeTable {
  const half = headDim / 2;
  if (section.length !== 3 || section[0]! + section[1]! + section[2]! !== half) {
    throw new RefError(`mrope section [${section.join(',')}] must have 3 parts summing to headDim/2 = ${half}`);
  }
  if (pos.length % 3 !== 0) throw new RefError('M-RoPE positions must be [3, rows]');
  const rows = pos.length / 3;
  const inv = refInvFreq(headDim, theta);
  const angles = new Float64Array(rows * half);
  for (let f = 0; f < half; f++) {
    const axis = f < section[0]! ? 0 : f < section[0]! + section[1]! ? 1 : 2;
    for (let r = 0; r < rows; r++) angles[r * half + f] = pos[axis * rows + r]! * inv[f]!;
  }
  return tableFromAngles(angles, rows, headDim);
}

/** y = x·cos + rotate_half(x)·sin per head; x [rows, heads, headDim], table [rows, headDim]. */
export function refApplyRotary(x: Float64Array, table: RopeTable, rows: number, heads: number,
  headDim: number): Float64Array {
  expectLength(x, rows * heads * headDim, 'refApplyRotary x');
  expectLength(table.cos, rows * headDim, 'refApplyRotary cos');
  const half = headDim / 2;
  const y = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    for (let h = 0; h < heads; h++) {
      const o = (r * heads + h) * headDim;
      for (let d = 0; d < headDim; d++) {
        const rot = d < half ? -x[o + d + half]! : x[o + d - half]!;
        y[o + d] = x[o + d]! * table.cos[r * headDim + d]! + rot * table.sin[r * headDim + d]!;
      }
    }
  }
  return y;
}

export function refRope1d(x: Float64Array, pos: ArrayLike<number>, heads: number, headDim: number,
  theta: number): Float64Array {
  return refApplyRotary(x, refRopeTable1d(pos, headDim, theta), pos.length, heads, headDim);
}

/** pos: [rows, 2] (row, col). */
export function refRope2d(x: Float64Array, pos: ArrayLike<number>, heads: number, headDim: number,
  theta: number): Float64Array {
  return refApplyRotary(x, refRopeTable2d(pos, headDim, theta), pos.length / 2, heads, headDim);
}

/** pos: [3, rows]. */
export function refMrope(x: Float64Array, pos: ArrayLike<number>, heads: number, headDim: number, theta: number,
  section: readonly number[]): Float64Array {
  return refApplyRotary(x, refMropeTable(pos, headDim, theta, section), pos.length / 3, heads, headDim);
}

// ---- attention ---------------------------------------------------------------------------------------------

function checkHeads(heads: number, kvHeads: number): void {
  if (!Number.isInteger(heads / kvHeads) || kvHeads < 1) {
    throw new RefError(`heads ${heads} must be a positive multiple of kvHeads ${kvHeads}`);
  }
}

/**
 * Non-causal attention inside segments (flash_attn_varlen_func): query rows [cuQ[s], cuQ[s+1]) attend to key rows
 * [cuK[s], cuK[s+1]). q [Nq, heads, headDim], k/v [Nk, kvHeads, headDim] (GQA: q head h uses kv head
 * floor(h / (heads/kvHeads))). Returns [Nq, heads·headDim]. Default scale 1/sqrt(headDim).
 */
export function refSegmentedAttention(q: Float64Array, k: Float64Array, v: Float64Array, cuQ: ArrayLike<number>,
  cuK: ArrayLike<number>, heads: number, kvHeads: number, headDim: number,
  scale = 1 / Math.sqrt(headDim)): Float64Array {
  checkHeads(heads, kvHeads);
  const nq = q.length / (heads * headDim);
  const nk = k.length / (kvHeads * headDim);
  expectLength(v, k.length, 'refSegmentedAttention v');
  if (cuQ.length !== cuK.length || cuQ.length < 2) throw new RefError('cuQ and cuK need the same length >= 2');
  if (cuQ[0] !== 0 || cuK[0] !== 0 || cuQ[cuQ.length - 1] !== nq || cuK[cuK.length - 1] !== nk) {
    throw new RefError(`segments must cover [0, ${nq}) queries and [0, ${nk}) keys`);
  }
  const view = (data: Float64Array, width: number) => ({ data, stride: width, offset: 0 });
  return productSegmented({
    q: view(q, heads * headDim), k: view(k, kvHeads * headDim), v: view(v, kvHeads * headDim), cuQ, cuKv: cuK,
    heads, kvHeads, headDim, scale,
  });
}

/**
 * Causal attention: the Lq query rows are the last Lq of the Lk key positions (query i sits at position
 * Lk - Lq + i and sees keys j <= that with keyMask[j] != 0). q [Lq, heads, headDim], k/v [Lk, kvHeads, headDim].
 * A query that sees no key gets a zero row.
 */
export function refCausalAttention(q: Float64Array, k: Float64Array, v: Float64Array, heads: number,
  kvHeads: number, headDim: number, opts: { keyMask?: ArrayLike<number>; scale?: number } = {}): Float64Array {
  checkHeads(heads, kvHeads);
  const lq = q.length / (heads * headDim);
  const lk = k.length / (kvHeads * headDim);
  if (!Number.isInteger(lq) || !Number.isInteger(lk) || lq > lk) throw new RefError(`bad causal shapes Lq ${lq} Lk ${lk}`);
  expectLength(v, k.length, 'refCausalAttention v');
  if (opts.keyMask) expectLength(opts.keyMask, lk, 'refCausalAttention keyMask');
  return productCausal({
    q: { data: q, stride: heads * headDim, offset: 0 }, rows: lq, past: lk - lq,
    k: { data: k, stride: kvHeads * headDim, offset: 0 }, v: { data: v, stride: kvHeads * headDim, offset: 0 },
    heads, kvHeads, headDim, scale: opts.scale ?? 1 / Math.sqrt(headDim), keyMask: opts.keyMask,
  });
}
