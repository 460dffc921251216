// Float64 references of the activation ops (src/ops/activation.ts).

const TWO_OVER_SQRT_PI = 1.1283791670955126; // 2/sqrt(pi)
const INV_SQRT_PI = 0.5641895835477563; // 1/sqrt(pi)

/** erf for |x| < 1: e^{-x²}·(2/√π)·Σ (2x²)^n x / (1·3·…·(2n+1)); all terms positive, so no cancellation. */
function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (Math.abs(term) <= 1e-17 * Math.abs(sum)) break;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
}

/**
 * erfc for x >= 1 (converges in < 200 terms there): e^{-x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))),
 * evaluated with the modified Lentz algorithm.
 */
function erfcContinuedFraction(x: number): number {
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let n = 1; n < 5000; n++) {
    const a = n / 2;
    d = x + a * d;
    d = Math.abs(d) < tiny ? tiny : d;
    c = x + a / c;
    c = Math.abs(c) < tiny ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return (INV_SQRT_PI * Math.exp(-x * x)) / f;
}

/** Complementary error function, ~1e-15 relative accuracy over the whole range. */
export function refErfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x >= 1) return erfcContinuedFraction(x);
  if (x <= -1) return 2 - erfcContinuedFraction(-x);
  return 1 - erfSeries(x); // erf < 0.85 here, so 1 - erf keeps full relative accuracy
}

/** Error function, ~1e-15 relative accuracy. */
export function refErf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x >= 1) return 1 - erfcContinuedFraction(x);
  if (x <= -1) return erfcContinuedFraction(-x) - 1;
  return erfSeries(x);
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
