// Rotary cos/sin tables for kernels/rope.wgsl, computed on the CPU with PyTorch's float32 semantics:
//   inv_freq[f] = f32(1 / f32(theta ^ f32(2f / dim)))      (HF: 1.0 / theta ** (arange(0, dim, 2).float() / dim))
//   angle       = f32(pos · inv_freq[f])                   (torch.outer in float32)
//   cos, sin    = f32(cos(angle)), f32(sin(angle))         (correctly rounded from the float32 angle)
// Row r of a table is [cos θ_0 .. cos θ_{half-1}, sin θ_0 .. sin θ_{half-1}] with half = headDim/2: the models
// duplicate θ (emb = [θ, θ]), so half a row of cos and half of sin say everything.
import { ShapeError } from '../runtime/errors.js';

const fr = Math.fround;

/** f32 inverse frequencies theta^(-2f/dim), f = 0..dim/2-1. */
const invFreqCache = new Map<string, Float32Array>();

/** Inverse frequencies (cached per dim and theta: every decode step asks for the same ones). Do not mutate. */
export function invFreqF32(dim: number, theta: number): Float32Array {
  const key = `${dim}:${theta}`;
  const hit = invFreqCache.get(key);
  if (hit) return hit;
  if (!Number.isInteger(dim) || dim < 2 || dim % 2 !== 0) throw new ShapeError(`rotary dim ${dim} must be even and >= 2`);
  if (!(theta > 0) || !Number.isFinite(theta)) throw new ShapeError(`rotary theta must be positive, got ${theta}`);
  const out = new Float32Array(dim / 2);
  for (let f = 0; f < dim / 2; f++) out[f] = fr(1 / fr(fr(theta) ** fr((2 * f) / dim)));
  invFreqCache.set(key, out);
  return out;
}

/** Fill table row `r` from its angle function over the half-row slots. */
function fillRow(out: Float32Array, r: number, half: number, angle: (slot: number) => number): void {
  const o = r * 2 * half;
  for (let j = 0; j < half; j++) {
    const a = angle(j);
    out[o + j] = Math.cos(a);
    out[o + half + j] = Math.sin(a);
  }
}

function checkPositions(pos: ArrayLike<number>, what: string): void {
  for (let i = 0; i < pos.length; i++) {
    if (!Number.isSafeInteger(pos[i])) throw new ShapeError(`${what}: position ${pos[i]} at ${i} is not an integer`);
  }
}

function checkHeadDim(headDim: number, multiple: number, what: string): void {
  if (!Number.isInteger(headDim) || headDim < multiple || headDim % multiple !== 0) {
    throw new ShapeError(`${what}: headDim ${headDim} must be a positive multiple of ${multiple}`);
  }
}

/** 1-D RoPE (Qwen3 text encoder): θ_f = pos · inv_freq(headDim)[f]. Returns [rows, headDim]. */
export function ropeTable1d(positions: ArrayLike<number>, headDim: number, theta: number): Float32Array {
  checkHeadDim(headDim, 2, 'ropeTable1d');
  checkPositions(positions, 'ropeTable1d');
  const inv = invFreqF32(headDim, theta);
  const half = headDim / 2;
  const out = new Float32Array(positions.length * headDim);
  for (let r = 0; r < positions.length; r++) fillRow(out, r, half, (f) => fr(positions[r]! * inv[f]!));
  return out;
}

/**
 * Vision 2-D RoPE (MODEL.md §3.3): posIds [N, 2] (row, col); inv_freq over the rotary dim headDim/2, so
 * θ = [row · inv[0..q-1], col · inv[0..q-1]] with q = headDim/4. Returns [N, headDim].
 */
export function visionRopeTable(posIds: ArrayLike<number>, headDim: number, theta = 10000): Float32Array {
  checkHeadDim(headDim, 4, 'visionRopeTable');
  if (posIds.length % 2 !== 0) throw new ShapeError(`visionRopeTable: posIds must be [N, 2], got ${posIds.length} values`);
  checkPositions(posIds, 'visionRopeTable');
  const inv = invFreqF32(headDim / 2, theta);
  const q = headDim / 4;
  const rows = posIds.length / 2;
  const out = new Float32Array(rows * headDim);
  for (let r = 0; r < rows; r++) {
    const h = posIds[2 * r]!;
    const w = posIds[2 * r + 1]!;
    fillRow(out, r, 2 * q, (j) => (j < q ? fr(h * inv[j]!) : fr(w * inv[j - q]!)));
  }
  return out;
}

/** Inquiry tokens in the vision QA layers (MODEL.md §3.5): the same position p on both axes. Returns [rows, headDim]. */
export function inquiryRopeTable(positions: ArrayLike<number>, headDim: number, theta = 10000): Float32Array {
  const pos = new Float64Array(2 * positions.length);
  for (let i = 0; i < positions.length; i++) pos[2 * i] = pos[2 * i + 1] = positions[i]!;
  return visionRopeTable(pos, headDim, theta);
}

/**
 * M-RoPE (MODEL.md §5): pos [3, L] (t row, then h row, then w row); frequency slot f of inv_freq(headDim) takes its
 * position from t for f < s0, h for f < s0 + s1, else w (mropeSection [s0, s1, s2], sum headDim/2).
 * Returns [L, headDim].
 */
export function mropeTable(pos: ArrayLike<number>, headDim: number, mropeSection: readonly number[],
  theta: number, into?: Float32Array): Float32Array {
  checkHeadDim(headDim, 2, 'mropeTable');
  const half = headDim / 2;
  if (mropeSection.length !== 3 || mropeSection.some((s) => !Number.isInteger(s) || s < 0) ||
    mropeSection[0]! + mropeSection[1]! + mropeSection[2]! !== half) {
    throw new ShapeError(`mropeTable: mropeSection [${mropeSection}] must be 3 integers summing to headDim/2 = ${half}`);
  }
  if (pos.length % 3 !== 0) throw new ShapeError(`mropeTable: positions must be [3, L], got ${pos.length} values`);
  checkPositions(pos, 'mropeTable');
  const inv = invFreqF32(headDim, theta);
  const rows = pos.length / 3;
  const s0 = mropeSection[0]!;
  const s01 = s0 + mropeSection[1]!;
  if (into && into.length !== rows * headDim) throw new ShapeError(`mropeTable: output of ${into.length} values for [${rows}, ${headDim}]`);
  const out = into ?? new Float32Array(rows * headDim);
  for (let r = 0; r < rows; r++) {
    fillRow(out, r, half, (f) => fr(pos[(f < s0 ? 0 : f < s01 ? 1 : 2) * rows + r]! * inv[f]!));
  }
  return out;
}
