// Float64 reference of the linear op (src/ops/matmul.ts).
import { refSiluMul } from './activation.js';
import { refRmsNorm } from './rmsnorm.js';

/**
 * y[M, N] = x[M, K]·w[N, K]ᵀ (+ bias[N]) (+ y0[M, N] when accumulating), in float64. Row-major; w in PyTorch's
 * [out, in] layout. Pass the values as the GPU stores them (already rounded to their dtypes).
 */
export function refLinear(x: ArrayLike<number>, w: ArrayLike<number>, bias: ArrayLike<number> | null,
  m: number, n: number, k: number, y0?: ArrayLike<number>): Float64Array {
  if (x.length !== m * k) throw new RangeError(`refLinear: x has ${x.length} values, [${m}, ${k}] needs ${m * k}`);
  if (w.length !== n * k) throw new RangeError(`refLinear: w has ${w.length} values, [${n}, ${k}] needs ${n * k}`);
  if (bias && bias.length !== n) throw new RangeError(`refLinear: bias has ${bias.length} values, needs ${n}`);
  if (y0 && y0.length !== m * n) throw new RangeError(`refLinear: y0 has ${y0.length} values, needs ${m * n}`);
  const y = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let l = 0; l < k; l++) s += x[i * k + l]! * w[j * k + l]!;
      if (bias) s += bias[j]!;
      if (y0) s += y0[i * n + j]!;
      y[i * n + j] = s;
    }
  }
  return y;
}

/**
 * Σ_k |x[i,k]·w[j,k]| (+ |bias| + |y0|) per output: the scale against which f32 summation error is bounded
 * (|error| ≤ γ_K · Σ|terms| with γ_K ≈ K·2⁻²⁴), so tolerances hold even for outputs that cancel to near zero.
 */
export function refLinearAbs(x: ArrayLike<number>, w: ArrayLike<number>, bias: ArrayLike<number> | null,
  m: number, n: number, k: number, y0?: ArrayLike<number>): Float64Array {
  const ax = Array.from(x, Math.abs);
  const aw = Array.from(w, Math.abs);
  return refLinear(ax, aw, bias ? Array.from(bias, Math.abs) : null, m, n, k, y0 ? Array.from(y0, Math.abs) : undefined);
}

/**
 * The decode step's fused matrix-vector products in float64 (src/ops/matmul.ts `linear` with `norm`,
 * `linearSiluMul`): h = rmsnorm(x; g, eps) when `norm` is given (else h = x), then y = h·wᵀ (+ bias) (+ y0) for w [n, k], or with
 * `siluPairs` (w = [gate; up], [2I, K]) y[j] = silu(gate_j)·up_j. One row.
 */
export function refFusedMatvec(x: ArrayLike<number>, w: ArrayLike<number>, n: number, k: number,
  o: { norm?: { g: ArrayLike<number>; eps: number }; bias?: ArrayLike<number> | null; y0?: ArrayLike<number>; siluPairs?: boolean }): Float64Array {
  const h = o.norm ? refRmsNorm(x, o.norm.g, 1, k, o.norm.eps).y : Float64Array.from(x);
  const y = refLinear(h, w, o.bias ?? null, 1, n, k, o.siluPairs ? undefined : o.y0);
  return o.siluPairs ? refSiluMul(y, 1, n / 2) : y;
}
