// The AWQ 4-bit checkpoint format (AutoAWQ "GEMM" version, as Qwen publishes it), read and written here:
// config.json `quantization_config` = {quant_method: "awq", bits: 4, version: "gemm", zero_point: true,
// group_size: g, modules_to_not_convert: [...]}; a linear layer `P` with weight [out, in] is quantized where
// `P.qweight` exists, stored as
//   P.qweight I32 [in, out/8]      4-bit codes, 8 per word along the OUTPUT dimension,
//   P.qzeros  I32 [in/g, out/8]    4-bit zero points, packed the same way,
//   P.scales  F16 [in/g, out],
// nibble i (bits 4i..4i+3) of word column c holding output column 8c + AWQ_ORDER[i]; W[o, k] =
// (q[k, o] − z[k/g, o])·s[k/g, o]. The engine converts it to its own q4 layout (src/ops/matmul-q4.ts) at load.
import type { Q4Parts } from '../ops/matmul-q4.js';
import { Q4_GROUP_MULTIPLE } from '../ops/matmul-q4.js';
import { jsonSnippet } from '../util/json-bounded.js';

/** Output column of nibble i within a packed word. */
export const AWQ_ORDER: readonly number[] = [0, 2, 4, 6, 1, 3, 5, 7];

export const QWEIGHT = '.qweight';
export const QZEROS = '.qzeros';
export const SCALES = '.scales';

/** The supported quantization_config, normalised. */
export interface AwqConfig {
  group: number;
  /** Module name prefixes left in floating point (informational for loads: a `.qweight` decides). */
  modulesToNotConvert: string[];
}

/**
 * Parses config.json's quantization_config; returns the problem as text when it is not the one format supported
 * (AWQ, 4 bits, GEMM packing, zero points, a group size that is a positive multiple of 8).
 */
export function parseAwqConfig(raw: unknown): { config: AwqConfig } | { problem: string } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { problem: 'quantization_config is not an object' };
  const q = raw as Record<string, unknown>;
  // Only strings are names: String() of a list would join (and recurse into) it.
  const method = typeof q.quant_method === 'string' ? q.quant_method.toLowerCase() : '';
  const bad: string[] = [];
  if (method !== 'awq') bad.push(`quant_method ${jsonSnippet(q.quant_method)} (supported: "awq")`);
  if (q.bits !== 4 && q.w_bit !== 4) bad.push(`bits ${jsonSnippet(q.bits ?? q.w_bit)} (supported: 4)`);
  const version = q.version === undefined ? 'gemm' : typeof q.version === 'string' ? q.version.toLowerCase() : '';
  if (version !== 'gemm') bad.push(`version ${jsonSnippet(q.version)} (supported: "gemm" packing)`);
  const zp = q.zero_point ?? true;
  if (zp !== true) bad.push(`zero_point ${jsonSnippet(q.zero_point)} (supported: true)`);
  const group = q.group_size ?? q.q_group_size;
  if (typeof group !== 'number' || !Number.isInteger(group) || group < Q4_GROUP_MULTIPLE || group % Q4_GROUP_MULTIPLE !== 0) {
    bad.push(`group_size ${jsonSnippet(group)} (supported: a positive multiple of ${Q4_GROUP_MULTIPLE})`);
  }
  const mods = q.modules_to_not_convert ?? [];
  if (mods !== null && (!Array.isArray(mods) || !mods.every((m) => typeof m === 'string'))) bad.push('modules_to_not_convert is not a list of names');
  if (bad.length) return { problem: `unsupported quantization_config: ${bad.join('; ')}` };
  return { config: { group: group as number, modulesToNotConvert: [...((mods ?? []) as string[])] } };
}

/** Expected shapes of the three AWQ tensors of a linear layer with weight [out, in]. */
export function awqShapes(out: number, inDim: number, group: number): { qweight: number[]; qzeros: number[]; scales: number[] } {
  return { qweight: [inDim, out / 8], qzeros: [inDim / group, out / 8], scales: [inDim / group, out] };
}

function i32Words(raw: Uint8Array): Uint32Array {
  const a = raw.byteOffset % 4 === 0 ? raw : raw.slice();
  return new Uint32Array(a.buffer, a.byteOffset, a.byteLength / 4);
}

/** AWQ tensors (raw little-endian bytes) -> codes, zeros and scales of W[out, in] in row-major plain arrays. */
export function awqToQ4(qweight: Uint8Array, qzeros: Uint8Array, scales: Uint8Array, out: number, inDim: number, group: number): Q4Parts {
  const qw = i32Words(qweight);
  const qz = i32Words(qzeros);
  const sc = new Uint16Array(scales.byteOffset % 2 === 0 ? scales.buffer : scales.slice().buffer, scales.byteOffset % 2 === 0 ? scales.byteOffset : 0, scales.byteLength / 2);
  const wc = out / 8;
  const g = inDim / group;
  const codes = new Uint8Array(out * inDim);
  for (let k = 0; k < inDim; k++) {
    for (let c = 0; c < wc; c++) {
      const word = qw[k * wc + c]!;
      for (let i = 0; i < 8; i++) codes[(8 * c + AWQ_ORDER[i]!) * inDim + k] = (word >>> (4 * i)) & 15;
    }
  }
  const zeros = new Uint8Array(out * g);
  const sOut = new Uint16Array(out * g);
  for (let gi = 0; gi < g; gi++) {
    for (let c = 0; c < wc; c++) {
      const word = qz[gi * wc + c]!;
      for (let i = 0; i < 8; i++) zeros[(8 * c + AWQ_ORDER[i]!) * g + gi] = (word >>> (4 * i)) & 15;
    }
    for (let o = 0; o < out; o++) sOut[o * g + gi] = sc[gi * out + o]!;
  }
  return { n: out, k: inDim, group, codes, zeros, scales: sOut };
}

/** Codes, zeros and scales of W[out, in] -> the AWQ tensors (I32 words as Int32Array, scales as f16 bits). */
export function q4ToAwq(q: Q4Parts): { qweight: Int32Array; qzeros: Int32Array; scales: Uint16Array } {
  const { n: out, k: inDim, group } = q;
  const wc = out / 8;
  const g = inDim / group;
  const qweight = new Int32Array(inDim * wc);
  for (let k = 0; k < inDim; k++) {
    for (let c = 0; c < wc; c++) {
      let word = 0;
      for (let i = 0; i < 8; i++) word |= (q.codes[(8 * c + AWQ_ORDER[i]!) * inDim + k]! & 15) << (4 * i);
      qweight[k * wc + c] = word;
    }
  }
  const qzeros = new Int32Array(g * wc);
  const scales = new Uint16Array(g * out);
  for (let gi = 0; gi < g; gi++) {
    for (let c = 0; c < wc; c++) {
      let word = 0;
      for (let i = 0; i < 8; i++) word |= (q.zeros[(8 * c + AWQ_ORDER[i]!) * g + gi]! & 15) << (4 * i);
      qzeros[gi * wc + c] = word;
    }
    for (let o = 0; o < out; o++) scales[gi * out + o] = q.scales[o * g + gi]!;
  }
  return { qweight, qzeros, scales };
}

/** Rows of several matrices with the same input width and group, stacked (fused gate/up, instruct k/v). */
export function concatQ4Rows(parts: readonly Q4Parts[]): Q4Parts {
  const first = parts[0]!;
  for (const p of parts) {
    if (p.k !== first.k || p.group !== first.group) throw new RangeError(`concatQ4Rows: [${p.n}, ${p.k}] g${p.group} vs [${first.n}, ${first.k}] g${first.group}`);
  }
  const cat = <T extends Uint8Array | Uint16Array>(arrays: T[], make: (n: number) => T): T => {
    const out = make(arrays.reduce((s, a) => s + a.length, 0));
    let at = 0;
    for (const a of arrays) { out.set(a, at); at += a.length; }
    return out;
  };
  return {
    n: parts.reduce((s, p) => s + p.n, 0), k: first.k, group: first.group,
    codes: cat(parts.map((p) => p.codes), (n) => new Uint8Array(n)),
    zeros: cat(parts.map((p) => p.zeros), (n) => new Uint8Array(n)),
    scales: cat(parts.map((p) => p.scales), (n) => new Uint16Array(n)),
  };
}

/** Rows r0 .. r1 of a 4-bit matrix (the ViT's fused qkv split into q, k, v). */
export function sliceQ4Rows(q: Q4Parts, r0: number, r1: number): Q4Parts {
  const g = q.k / q.group;
  return {
    n: r1 - r0, k: q.k, group: q.group,
    codes: q.codes.slice(r0 * q.k, r1 * q.k),
    zeros: q.zeros.slice(r0 * g, r1 * g),
    scales: q.scales.slice(r0 * g, r1 * g),
  };
}
