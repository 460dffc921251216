// Float64 references of the activation ops (src/ops/activation.ts).

const TWO_OVER_SQRT_PI = 1.1283791670955126;
const INV_SQRT_PI = 0.5641895835477563;

/** erfc(x) for x >= 2 by its continued fraction (modified Lentz), relative accuracy ~1e-15. */
function erfcLarge(x: number): number {
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let n = 1; n < 5000; n++) {
    d = x + (n / 2) * d;
    d = 1 / (Math.abs(d) < tiny ? tiny : d);
    c = x + n / 2 / (Math.abs(c) < tiny ? tiny : c);
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return (INV_SQRT_PI * Math.exp(-x * x)) / f;
}

/** erf(x) for |x| < 2 by the series e^{-x²}·(2/√π)·Σ 2ⁿx^{2n+1}/(1·3·…·(2n+1)) (positive terms, no cancellation). */
function erfSmall(x: number): number {
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 200 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
}

/** Complementary error function, ~1e-15 relative accuracy everywhere (both tails). */
export function refErfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x >= 2) return erfcLarge(x);
  if (x <= -2) return 2 - erfcLarge(-x);
  return 1 - erfSmall(x);
}

export function refErf(x: number): number {
  return Number.isNaN(x) ? NaN : x >= 2 ? 1 - erfcLarge(x) : x <= -2 ? erfcLarge(-x) - 1 : erfSmall(x);
}

/** Exact-erf GELU 0.5·x·(1 + erf(x/√2)) = 0.5·x·erfc(−x/√2) (accurate for negative x too). */
export function refGelu(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, (v) => 0.5 * v * refErfc(-v / Math.SQRT2));
}

export function refSilu(v: number): number {
  return v / (1 + Math.exp(-v));
}

/** out[M, I] = silu(gu[:, :I]) · gu[:, I:] for gu [M, 2I]. */
export function refSiluMul(gu: ArrayLike<number>, rows: number, inter: number): Float64Array {
  const out = new Float64Array(rows * inter);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < inter; c++) {
      out[r * inter + c] = refSilu(gu[2 * r * inter + c]!) * gu[(2 * r + 1) * inter + c]!;
    }
  }
  return out;
}
