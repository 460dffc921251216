// Float64 references of the token selection ops (src/ops/sample.ts).

/** True when some logit is NaN or +-inf (the samplers then set NONFINITE_FLAG). */
export function refHasNonFinite(logits: ArrayLike<number>): boolean {
  for (let i = 0; i < logits.length; i++) if (!Number.isFinite(logits[i]!)) return true;
  return false;
}

/** Index of the largest logit, lowest on ties, NaN ignored; 0 when every logit is NaN. */
export function refArgmax(logits: ArrayLike<number>): number {
  let best = -1;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i]!;
    if (!Number.isNaN(v) && (best < 0 || v > logits[best]!)) best = i;
  }
  return Math.max(best, 0);
}

export interface RefNucleus {
  /** softmax(logits / T) over the whole row. */
  probs: Float64Array;
  /** Token ids in the nucleus, ascending. */
  tokens: number[];
  /** Total probability of the nucleus. */
  mass: number;
  /** The smallest probability kept (τ). */
  threshold: number;
}

/**
 * The nucleus of sampleTopP: tokens with p >= τ, τ the largest probability such that the tokens at least that
 * probable hold >= topP of the mass (the top tokens until their mass reaches topP, plus ties of the last one).
 */
export function refNucleus(logits: ArrayLike<number>, temperature: number, topP: number): RefNucleus {
  let m = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > m) m = logits[i]!;
  const probs = Float64Array.from(logits, (v) => (Number.isNaN(v) ? 0 : Math.exp((v - m) / temperature)));
  const z = probs.reduce((s, v) => s + v, 0);
  for (let i = 0; i < probs.length; i++) probs[i]! /= z;
  const ascending = Float64Array.from(probs).sort();
  let cum = 0;
  let threshold = 0;
  for (let i = ascending.length - 1; i >= 0; i--) {
    cum += ascending[i]!;
    threshold = ascending[i]!;
    if (cum >= topP) break;
  }
  const tokens: number[] = [];
  let mass = 0;
  for (let i = 0; i < probs.length; i++) {
    if (probs[i]! >= threshold && probs[i]! > 0) { tokens.push(i); mass += probs[i]!; }
  }
  return { probs, tokens, mass, threshold };
}

/**
 * The token sampleTopP picks for `uniform`: the first nucleus token, in index order, whose running nucleus mass
 * exceeds uniform · mass. Also returns that token's CDF interval [lo, hi) in units of `uniform`, so a caller can
 * tell how far `uniform` is from a boundary.
 */
export function refSampleTopP(logits: ArrayLike<number>, temperature: number, topP: number, uniform: number):
  { token: number; lo: number; hi: number } {
  if (temperature === 0) { const t = refArgmax(logits); return { token: t, lo: 0, hi: 1 }; }
  const n = refNucleus(logits, temperature, topP);
  let run = 0;
  for (const i of n.tokens) {
    const next = run + n.probs[i]! / n.mass;
    if (uniform < next) return { token: i, lo: run, hi: next };
    run = next;
  }
  const last = n.tokens[n.tokens.length - 1]!;
  return { token: last, lo: run - n.probs[last]! / n.mass, hi: 1 };
}
