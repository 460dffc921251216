// Float64 CPU references for the attention kernels (product code: the self-test and test/kernels use them).
// Inputs are row-major arrays addressed like the GPU's strided views: element (r, c) at r*stride + offset + c.

export interface RefView {
  readonly data: ArrayLike<number>;
  readonly stride: number;
  readonly offset: number;
}

export interface RefSegmentedArgs {
  q: RefView; k: RefView; v: RefView;
  cuQ: ArrayLike<number>; cuKv: ArrayLike<number>;
  extra?: { k: RefView; v: RefView; cu: ArrayLike<number> };
  heads: number; kvHeads: number; headDim: number; scale: number;
}

/**
 * One query row of one head against a list of key rows (joint softmax), written into out at `o`.
 * Keys: pairs (view index into `srcs`, row). No keys gives a zero row (the GPU kernels do the same).
 */
function attendRow(
  q: RefView, row: number, h: number, srcs: readonly { k: RefView; v: RefView }[], keys: readonly [number, number][],
  g: number, d: number, scale: number, out: Float64Array, o: number,
): void {
  const qb = row * q.stride + q.offset + h * d;
  const scores = new Float64Array(keys.length);
  let max = -Infinity;
  keys.forEach(([si, j], n) => {
    const k = srcs[si]!.k;
    const kb = j * k.stride + k.offset + g * d;
    let s = 0;
    for (let c = 0; c < d; c++) s += q.data[qb + c]! * k.data[kb + c]!;
    scores[n] = s * scale;
    max = Math.max(max, scores[n]!);
  });
  let sum = 0;
  for (let n = 0; n < keys.length; n++) sum += (scores[n] = Math.exp(scores[n]! - max));
  for (let c = 0; c < d; c++) out[o + c] = 0;
  keys.forEach(([si, j], n) => {
    const v = srcs[si]!.v;
    const vb = j * v.stride + v.offset + g * d;
    const p = scores[n]! / sum;
    for (let c = 0; c < d; c++) out[o + c] += p * v.data[vb + c]!;
  });
}

/** Non-causal segmented attention with optional appended keys; returns [cuQ[S], heads*headDim]. */
export function refSegmentedAttention(a: RefSegmentedArgs): Float64Array {
  const { heads, kvHeads, headDim: d, scale } = a;
  const S = a.cuQ.length - 1;
  const nq = a.cuQ[S]!;
  const group = heads / kvHeads;
  const out = new Float64Array(nq * heads * d);
  const srcs = [{ k: a.k, v: a.v }, ...(a.extra ? [{ k: a.extra.k, v: a.extra.v }] : [])];
  for (let s = 0; s < S; s++) {
    const keys: [number, number][] = [];
    for (let j = a.cuKv[s]!; j < a.cuKv[s + 1]!; j++) keys.push([0, j]);
    if (a.extra) for (let j = a.extra.cu[s]!; j < a.extra.cu[s + 1]!; j++) keys.push([1, j]);
    for (let r = a.cuQ[s]!; r < a.cuQ[s + 1]!; r++) {
      for (let h = 0; h < heads; h++) attendRow(a.q, r, h, srcs, keys, Math.floor(h / group), d, scale, out, (r * heads + h) * d);
    }
  }
  return out;
}

export interface RefCausalArgs {
  q: RefView; rows: number; k: RefView; v: RefView; past: number;
  heads: number; kvHeads: number; headDim: number; scale: number;
  /** Optional padding mask over key rows (0 = masked), as the reference's padded text-encoder batches use. */
  keyMask?: ArrayLike<number>;
}

/** Causal GQA attention: query row i sees keys 0..past+i; returns [rows, heads*headDim]. */
export function refCausalAttention(a: RefCausalArgs): Float64Array {
  const { heads, kvHeads, headDim: d, scale } = a;
  const group = heads / kvHeads;
  const out = new Float64Array(a.rows * heads * d);
  const srcs = [{ k: a.k, v: a.v }];
  for (let i = 0; i < a.rows; i++) {
    const keys: [number, number][] = [];
    for (let j = 0; j <= a.past + i; j++) if (!a.keyMask || a.keyMask[j] !== 0) keys.push([0, j]);
    for (let h = 0; h < heads; h++) attendRow(a.q, i, h, srcs, keys, Math.floor(h / group), d, scale, out, (i * heads + h) * d);
  }
  return out;
}
