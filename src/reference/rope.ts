// Float64 reference of the rotary op (src/ops/rope.ts).

/**
 * y = x·cos + rotate_half(x)·sin per head, on a strided layout (head h of row r = the `headDim` values at
 * r*stride + offset + h*headDim), with `table` in the kernel layout [rows, headDim]: cos θ in the first half of a
 * row, sin θ in the second. Returns a rotated copy of `data`; other elements are unchanged.
 */
export function refApplyRope(data: ArrayLike<number>, stride: number, offset: number, rows: number, heads: number,
  headDim: number, table: ArrayLike<number>): Float64Array {
  const out = Float64Array.from(data);
  const half = headDim / 2;
  for (let r = 0; r < rows; r++) {
    for (let h = 0; h < heads; h++) {
      const o = r * stride + offset + h * headDim;
      for (let d = 0; d < half; d++) {
        const c = table[r * headDim + d]!;
        const s = table[r * headDim + half + d]!;
        const x0 = data[o + d]!;
        const x1 = data[o + half + d]!;
        out[o + d] = x0 * c - x1 * s;
        out[o + half + d] = x1 * c + x0 * s;
      }
    }
  }
  return out;
}

/**
 * src/ops/rope.ts `ropeWriteKv` in float64: qkv rows [rows, (heads + 2·kvHeads)·headDim]; returns qkv with its q
 * heads rotated, and the rotated k rows and the v rows ([rows, kvHeads·headDim] each) the caches receive.
 */
export function refRopeWriteKv(qkv: ArrayLike<number>, rows: number, heads: number, kvHeads: number, headDim: number,
  table: ArrayLike<number>): { qkv: Float64Array; k: Float64Array; v: Float64Array } {
  const width = (heads + 2 * kvHeads) * headDim;
  const kvw = kvHeads * headDim;
  const rotated = refApplyRope(qkv, width, 0, rows, heads + kvHeads, headDim, table);
  const out = refApplyRope(qkv, width, 0, rows, heads, headDim, table);
  const k = new Float64Array(rows * kvw);
  const v = new Float64Array(rows * kvw);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < kvw; c++) {
      k[r * kvw + c] = rotated[r * width + heads * headDim + c]!;
      v[r * kvw + c] = qkv[r * width + (heads + kvHeads) * headDim + c]!;
    }
  }
  return { qkv: out, k, v };
}
