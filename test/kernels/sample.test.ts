import { describe, expect, it } from 'vitest';
import { CORE, getGpu, poison, uploadValues } from '../helpers/gpu.js';
import { randn, rng } from '../helpers/random.js';
import type { Gpu } from '../../src/runtime/device.js';
import { ShapeError } from '../../src/runtime/errors.js';
import type { Tensor } from '../../src/runtime/tensor.js';
import { argmax, NONFINITE_FLAG, sampleTopP, type TopPOptions } from '../../src/ops/sample.js';
import { refArgmax, refHasNonFinite, refNucleus, refSampleTopP } from '../../src/reference/sample.js';
import { actCases, put } from './elementwise-helpers.js';

const VOCAB = 152064;

async function pick(gpu: Gpu, logits: Tensor, opts: TopPOptions | null): Promise<number> {
  const out = gpu.tensor([1], 'u32', 'token');
  poison(gpu, out);
  const rec = gpu.recorder();
  if (opts) sampleTopP(rec, gpu, logits, out, opts);
  else argmax(rec, gpu, logits, out);
  rec.submit();
  const id = (await gpu.readU32(out))[0]!;
  out.release();
  return id;
}

/** Logits like an LM head's: a few strong candidates over a wide low tail. */
function lmLogits(n: number, seed: number): Float32Array {
  const v = randn(n, seed, 2);
  const r = rng(seed + 1);
  for (let i = 0; i < Math.min(12, n); i++) v[Math.floor(r() * n)] = 9 + 3 * r();
  return v;
}

/** topP halfway between the cumulative masses of the k-th and (k+1)-th most probable tokens (unambiguous in f32). */
function topPBetween(logits: ArrayLike<number>, temperature: number, k: number): number {
  const { probs } = refNucleus(logits, temperature, 1);
  const sorted = Float64Array.from(probs).sort().reverse();
  let cum = 0;
  for (let i = 0; i < k; i++) cum += sorted[i]!;
  return cum + sorted[k]! / 2;
}

describe('argmax', async () => {
  const cases = await actCases();

  it.each(cases)('finds the largest logit, lowest index on ties, ignoring NaN ($path.name, $dtype)', async ({ path, dtype }) => {
    const gpu = await getGpu(path);
    for (const n of [1, 7, 1000, VOCAB]) {
      const v = randn(n, n);
      const x = put(gpu, v, [1, n], dtype);
      expect(await pick(gpu, x.t, null), `V ${n}`).toBe(refArgmax(x.v));
      gpu.destroyTensor(x.t);
    }
    // Ties in different thread chunks, NaN (also first and largest-looking) and -inf entries.
    const v = randn(VOCAB, 5);
    for (const i of [VOCAB - 1, 100000, 77777, 600]) v[i] = 50;
    v[0] = NaN;
    v[601] = NaN;
    v[1] = -Infinity;
    const x = put(gpu, v, [VOCAB], dtype);
    expect(await pick(gpu, x.t, null)).toBe(600 + NONFINITE_FLAG); // the word also says: some logit was not finite
    gpu.destroyTensor(x.t);
  });

  it('handles rows that are all NaN, all -inf, or hold +inf, flagging every non-finite row', async () => {
    const gpu = await getGpu(CORE);
    const cases: [number[], number][] = [
      [[NaN, NaN, NaN], 0], [[-Infinity, -Infinity], 0], [[NaN, -Infinity, 3, Infinity, Infinity], 3], [[-0, 0, -1], 0],
      [[1, 2, 3e38, -3e38], 2], [[1, NaN, 2], 2], [[Infinity, 1], 0], [[1, -Infinity], 0],
    ].map(([v, token]) => [v as number[], (token as number) + (refHasNonFinite(v as number[]) ? NONFINITE_FLAG : 0)]);
    for (const [v, want] of cases) {
      const t = uploadValues(gpu, v, [v.length], 'f32');
      expect(await pick(gpu, t, null), JSON.stringify(v)).toBe(want);
      // Top-p falls back to argmax on rows whose maximum is not finite.
      if (!v.some(Number.isFinite) || v.includes(Infinity)) {
        expect(await pick(gpu, t, { temperature: 1, topP: 0.9, uniform: 0.5 })).toBe(want);
      } else if (refHasNonFinite(v)) {
        // A finite maximum: top-p samples among the finite logits and still flags the row.
        expect((await pick(gpu, t, { temperature: 1, topP: 0.9, uniform: 0.5 })) >= NONFINITE_FLAG, JSON.stringify(v)).toBe(true);
      } else {
        expect(await pick(gpu, t, { temperature: 1, topP: 0.9, uniform: 0.5 })).toBeLessThan(NONFINITE_FLAG);
      }
      gpu.destroyTensor(t);
    }
  });
});

describe('sampleTopP', async () => {
  const cases = await actCases();

  // The GPU sums in f32 (relative error ~1e-6 of the mass); the reference in float64. A uniform at the middle of a
  // token's CDF interval of width >= 1e-3 is >= 5e-4 away from either boundary, far beyond that error, so the
  // choice must be identical.
  it.each(cases)('picks the reference token for fixed uniforms, full vocabulary ($path.name, $dtype)', async ({ path, dtype }) => {
    const gpu = await getGpu(path);
    const x = put(gpu, lmLogits(VOCAB, 11), [1, VOCAB], dtype);
    for (const [temperature, k] of [[0.7, 3], [1, 8], [1.5, 30]] as const) {
      const topP = topPBetween(x.v, temperature, k);
      const nucleus = refNucleus(x.v, temperature, topP);
      expect(nucleus.tokens.length).toBe(k + 1);
      // Each nucleus token's CDF interval in index order; check (at most 6) tokens at their interval middles.
      let checked = 0;
      let lo = 0;
      for (const token of nucleus.tokens) {
        const hi = lo + nucleus.probs[token]! / nucleus.mass;
        const u = (lo + hi) / 2;
        const width = hi - lo;
        lo = hi;
        if (width < 1e-3 || checked === 6) continue;
        if (checked === 0) expect(refSampleTopP(x.v, temperature, topP, u).token).toBe(token); // same convention
        expect(await pick(gpu, x.t, { temperature, topP, uniform: u }), `T ${temperature} topP ${topP} u ${u}`).toBe(token);
        checked++;
      }
      expect(checked).toBeGreaterThan(1);
    }
    gpu.destroyTensor(x.t);
  });

  it.each(cases)('never leaves the nucleus, ties at the boundary included ($path.name, $dtype)', async ({ path, dtype }) => {
    const gpu = await getGpu(path);
    const n = 1001;
    const v = randn(n, 3, 1);
    v[500] = 8;
    for (const i of [7, 400, 999]) v[i] = 6; // three tokens tied right at the nucleus boundary
    const x = put(gpu, v, [n], dtype);
    // mass(8) < topP < mass(8) + one of the tied tokens: all three ties join.
    const p = refNucleus(x.v, 1, 1).probs;
    const topP = p[500]! + p[7]! / 2;
    expect(refNucleus(x.v, 1, topP).tokens).toEqual([7, 400, 500, 999]);
    // Each tie holds ~10% of the nucleus: a grid of step 0.05 lands in every token's interval.
    const seen = new Set<number>();
    for (const u of [0, 0.999999, ...Array.from({ length: 20 }, (_, i) => 0.025 + 0.05 * i)]) {
      const id = await pick(gpu, x.t, { temperature: 1, topP, uniform: u });
      expect([7, 400, 500, 999]).toContain(id);
      seen.add(id);
    }
    expect(seen.size).toBe(4);
    gpu.destroyTensor(x.t);
  });

  it('tiny topP and tiny temperature give the argmax; temperature 0 is greedy', async () => {
    const gpu = await getGpu(CORE);
    const v = lmLogits(5000, 8);
    const t = uploadValues(gpu, v, [5000], 'f32');
    const best = refArgmax(v);
    for (const u of [0, 0.5, 0.999]) {
      expect(await pick(gpu, t, { temperature: 1, topP: 1e-9, uniform: u })).toBe(best);
      expect(await pick(gpu, t, { temperature: 1e-4, topP: 1, uniform: u })).toBe(best);
      expect(await pick(gpu, t, { temperature: 0, topP: 0.5, uniform: u })).toBe(best);
      expect(await pick(gpu, t, { temperature: 1e-45, topP: 0.5, uniform: u })).toBe(best);
    }
    gpu.destroyTensor(t);
  });

  // Statistical check of the whole path: with draws from a seeded PRNG, token frequencies follow
  // softmax(l/T) restricted to the nucleus and renormalised. Pearson chi-square with 7 degrees of freedom; 30 is
  // above the 0.9999 quantile (~25.7): a wrong temperature (e.g. T = 1 instead of 2) gives chi² in the hundreds.
  it('draws follow the tempered, truncated distribution', async () => {
    const gpu = await getGpu(CORE);
    const v = [0.5, 2, -1, 1.5, 0, 3, 1, -0.5, 2.5, -3];
    const t = uploadValues(gpu, v, [v.length], 'f32');
    const temperature = 2;
    const topP = topPBetween(v, temperature, 7); // 8 tokens kept
    const nucleus = refNucleus(v, temperature, topP);
    expect(nucleus.tokens.length).toBe(8);
    const draws = 400;
    const counts = new Map<number, number>();
    const r = rng(99);
    for (let i = 0; i < draws; i++) {
      const id = await pick(gpu, t, { temperature, topP, uniform: r() });
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    let chi2 = 0;
    for (const token of nucleus.tokens) {
      const expected = (draws * nucleus.probs[token]!) / nucleus.mass;
      chi2 += ((counts.get(token) ?? 0) - expected) ** 2 / expected;
      counts.delete(token);
    }
    expect([...counts.keys()]).toEqual([]); // nothing outside the nucleus
    expect(chi2).toBeLessThan(30);
    gpu.destroyTensor(t);
  });

  it('rejects bad options and shapes', async () => {
    const gpu = await getGpu(CORE);
    const logits = uploadValues(gpu, [1, 2, 3], [3], 'f32');
    const out = gpu.tensor([1], 'u32');
    const rec = gpu.recorder();
    const ok: TopPOptions = { temperature: 1, topP: 0.9, uniform: 0.5 };
    for (const bad of [{ temperature: -1 }, { temperature: NaN }, { topP: 0 }, { topP: 1.5 }, { uniform: 1 }, { uniform: -0.1 }]) {
      expect(() => sampleTopP(rec, gpu, logits, out, { ...ok, ...bad })).toThrow(ShapeError);
    }
    expect(() => argmax(rec, gpu, logits, gpu.tensor([1], 'f32'))).toThrow(ShapeError);
    expect(() => argmax(rec, gpu, uploadValues(gpu, [1, 2, 3, 4], [2, 2], 'f32'), out)).toThrow(ShapeError);
    expect(() => argmax(rec, gpu, logits, gpu.tensor([2], 'u32'))).toThrow(ShapeError);
  });
});
