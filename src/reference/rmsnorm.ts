// Float64 references of the RMSNorm ops (src/ops/rmsnorm.ts).

/**
 * RMSNorm over `rows` rows of `dim`: y = x / sqrt(mean(x²) + eps) · w. With `residual`, x is first replaced by
 * x + residual (returned as `x`, as the op updates it in place).
 */
export function refRmsNorm(x: ArrayLike<number>, w: ArrayLike<number>, rows: number, dim: number, eps: number,
  residual?: ArrayLike<number>): { x: Float64Array; y: Float64Array } {
  const h = Float64Array.from(x);
  if (residual) for (let i = 0; i < h.length; i++) h[i]! += residual[i]!;
  const y = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) normalise(h, r * dim, dim, w, eps, y, r * dim);
  return { x: h, y };
}

/**
 * Per-head RMSNorm in place on a strided layout (Qwen3 q_norm/k_norm): head h of row r is the `headDim` values
 * at r*stride + offset + h*headDim. Returns a normalised copy of `data`; other elements are unchanged.
 */
export function refHeadRmsNorm(data: ArrayLike<number>, stride: number, offset: number, rows: number, heads: number,
  headDim: number, w: ArrayLike<number>, eps: number): Float64Array {
  const out = Float64Array.from(data);
  for (let r = 0; r < rows; r++) {
    for (let h = 0; h < heads; h++) {
      const o = r * stride + offset + h * headDim;
      normalise(out, o, headDim, w, eps, out, o);
    }
  }
  return out;
}

function normalise(src: Float64Array, so: number, n: number, w: ArrayLike<number>, eps: number, dst: Float64Array,
  dOff: number): void {
  let ss = 0;
  for (let i = 0; i < n; i++) ss += src[so + i]! ** 2;
  const inv = 1 / Math.sqrt(ss / n + eps);
  for (let i = 0; i < n; i++) dst[dOff + i] = src[so + i]! * inv * w[i]!;
}
