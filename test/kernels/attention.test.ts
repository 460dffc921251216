import { describe, expect, it } from 'vitest';
import { getGpu, CORE, featurePaths, poison, uploadValues, relError, type FeaturePath } from '../helpers/gpu.js';
import { uniform } from '../helpers/random.js';
import type { Gpu } from '../../src/runtime/device.js';
import { decode, encode, type ActDType } from '../../src/runtime/dtype.js';
import { ContextOverflowError, ShapeError } from '../../src/runtime/errors.js';
import type { Tensor } from '../../src/runtime/tensor.js';
import type { StridedView } from '../../src/ops/view.js';
import { causalAttention, decodeSplits, segmentedAttention, writeKv } from '../../src/ops/attention.js';
import { KvCache } from '../../src/model/kv-cache.js';
import { selfTests } from '../../src/selftest/attention.js';
import { refCausalAttention, refSegmentedAttention, type RefView } from '../../src/reference/attention.js';

// Tolerances (max |got - ref| / max |ref|, see relError). f32 path: scores are f32 dot products of <= 128 terms
// (relative error ~1e-6 of sum |q_i k_i| * scale, i.e. ~1e-5 absolute in log2 units for the ±100 rows), exp2
// is accurate to a few ulp and accumulation runs over <= 3000 keys in f32: 1e-4 leaves a margin of ~10x.
// f16 path: inputs are rounded to f16 for the reference too, math is f32, the output is rounded to f16
// (half an ulp = 2^-12 relative of |out| <= max |ref|): 1e-3.
const TOL: Record<ActDType, number> = { f32: 1e-4, f16: 1e-3 };

async function cases(): Promise<{ path: FeaturePath; dtype: ActDType }[]> {
  const out: { path: FeaturePath; dtype: ActDType }[] = [];
  for (const path of await featurePaths()) {
    out.push({ path, dtype: 'f32' });
    if (path.optional && (await getGpu(path)).features.f16) out.push({ path, dtype: 'f16' });
  }
  return out;
}

/** Random activations, a few rows scaled up so that scores reach about ±100 (exp would overflow f32). */
function act(n: number, width: number, seed: number, big: readonly number[] = [], bigScale = 1): Float32Array {
  const v = uniform(n * width, seed);
  for (const r of big) for (let c = 0; c < width; c++) v[r * width + c]! *= bigScale;
  return v;
}

/** Upload values in `dtype`; returns the tensor and the values as stored (rounded), for the reference. */
function put(gpu: Gpu, values: Float32Array, shape: number[], dtype: ActDType): { t: Tensor; stored: Float32Array } {
  const stored = decode(encode(values, dtype), dtype, values.length);
  return { t: uploadValues(gpu, values, shape, dtype), stored };
}

function table(gpu: Gpu, sizes: readonly number[]): { t: Tensor; cu: number[] } {
  const cu = [0];
  for (const s of sizes) cu.push(cu[cu.length - 1]! + s);
  return { t: uploadValues(gpu, cu, [cu.length], 'u32'), cu };
}

function sum(a: readonly number[]): number { return a.reduce((s, x) => s + x, 0); }

describe('segmentedAttention', async () => {
  const all = await cases();

  // Window/full attention from a fused qkv buffer: segments of every awkward kind.
  it.each(all)('self-attention in segments, fused qkv, GQA 1 ($path.name, $dtype)', async ({ path, dtype }) => {
    const gpu = await getGpu(path);
    const heads = 3, kvHeads = 3, d = 80, w = heads * d;
    // 0-query segment with keys, empty segment, single token, sizes that are no multiple of any tile.
    const qSizes = [5, 0, 0, 1, 37, 2, 70, 3];
    const kSizes = [5, 4, 0, 1, 37, 2, 70, 3];
    const nk = sum(kSizes), nq = sum(qSizes);
    const stride = 3 * w;
    // q rows and k/v rows share one qkv buffer of max(nq, nk) rows.
    const n = Math.max(nq, nk);
    const qkvVals = act(n, stride, 11, [0, 6, 40], 12);
    const qkv = put(gpu, qkvVals, [n, stride], dtype);
    const cuQ = table(gpu, qSizes), cuKv = table(gpu, kSizes);
    const out = gpu.tensor([nq, w], dtype);
    poison(gpu, out);
    const rec = gpu.recorder();
    const q: StridedView = { t: qkv.t, stride, offset: 0 };
    const k: StridedView = { t: qkv.t, stride, offset: w };
    const v: StridedView = { t: qkv.t, stride, offset: 2 * w };
    const scale = 1 / Math.sqrt(d);
    segmentedAttention(rec, gpu, { q, k, v, cuQ: cuQ.t, cuKv: cuKv.t, heads, kvHeads, headDim: d, scale, out });
    rec.submit();
    const got = await gpu.read(out);
    const rv = (offset: number): RefView => ({ data: qkv.stored, stride, offset });
    const ref = refSegmentedAttention({ q: rv(0), k: rv(w), v: rv(2 * w), cuQ: cuQ.cu, cuKv: cuKv.cu, heads, kvHeads, headDim: d, scale });
    expect(relError(got, ref)).toBeLessThan(TOL[dtype]);
    // Large rows really produce large scores (the test must exercise online-softmax safety).
    let maxScore = 0;
    for (let c = 0; c < d; c++) maxScore += Math.abs(qkv.stored[c]! * qkv.stored[w + c]!);
    expect(maxScore * scale).toBeGreaterThan(50);
    out.release();
  });

  // QA layers: image keys in k/v plus inquiry keys from a second source, GQA 1/2/7, head dims 8/16/128.
  const qa = [
    { heads: 2, kvHeads: 2, d: 8, fusedImage: true, fusedExtra: false },
    { heads: 4, kvHeads: 2, d: 16, fusedImage: false, fusedExtra: true },
    { heads: 7, kvHeads: 1, d: 128, fusedImage: true, fusedExtra: true },
    { heads: 14, kvHeads: 2, d: 16, fusedImage: true, fusedExtra: false },
  ];
  const qaCases = all.flatMap((c) => qa.map((s) => ({ ...c, ...s })));
  it.each(qaCases)('joint attention with appended keys: $heads/$kvHeads heads x $d ($path.name, $dtype)',
    async ({ path, dtype, heads, kvHeads, d, fusedImage, fusedExtra }) => {
      const gpu = await getGpu(path);
      const w = heads * d, kw = kvHeads * d;
      const qSizes = [9, 1, 0, 13, 6];
      const kSizes = [9, 1, 3, 13, 0];   // last group: no image keys, only text keys
      const eSizes = [4, 0, 2, 11, 5];   // second group: no text keys
      const nq = sum(qSizes), nk = sum(kSizes), ne = sum(eSizes);
      const qv = put(gpu, act(nq, w, 21, [2, 12], 20), [nq, w], dtype);
      // Image k/v: fused as [k | v] rows or separate tensors; extra k/v likewise.
      const kv = (seed: number, rows: number, fused: boolean, bigRows: number[]) => {
        if (fused) {
          const t = put(gpu, act(rows, 2 * kw, seed, bigRows, 6), [rows, 2 * kw], dtype);
          return { k: { t: t.t, stride: 2 * kw, offset: 0 }, v: { t: t.t, stride: 2 * kw, offset: kw },
            rk: { data: t.stored, stride: 2 * kw, offset: 0 }, rv: { data: t.stored, stride: 2 * kw, offset: kw } };
        }
        const tk = put(gpu, act(rows, kw, seed, bigRows, 6), [rows, kw], dtype);
        const tv = put(gpu, act(rows, kw, seed + 1), [rows, kw], dtype);
        return { k: { t: tk.t, stride: kw, offset: 0 }, v: { t: tv.t, stride: kw, offset: 0 },
          rk: { data: tk.stored, stride: kw, offset: 0 }, rv: { data: tv.stored, stride: kw, offset: 0 } };
      };
      const img = kv(22, nk, fusedImage, [1, 20]);
      const ext = kv(24, ne, fusedExtra, [3]);
      const cuQ = table(gpu, qSizes), cuKv = table(gpu, kSizes), cuE = table(gpu, eSizes);
      const out = gpu.tensor([nq, w], dtype);
      poison(gpu, out);
      const scale = 1 / Math.sqrt(d);
      const rec = gpu.recorder();
      segmentedAttention(rec, gpu, {
        q: { t: qv.t, stride: w, offset: 0 }, k: img.k, v: img.v, cuQ: cuQ.t, cuKv: cuKv.t,
        extra: { k: ext.k, v: ext.v, cu: cuE.t }, heads, kvHeads, headDim: d, scale, out,
      });
      rec.submit();
      const got = await gpu.read(out);
      const ref = refSegmentedAttention({
        q: { data: qv.stored, stride: w, offset: 0 }, k: img.rk, v: img.rv, cuQ: cuQ.cu, cuKv: cuKv.cu,
        extra: { k: ext.rk, v: ext.rv, cu: cuE.cu }, heads, kvHeads, headDim: d, scale,
      });
      expect(relError(got, ref)).toBeLessThan(TOL[dtype]);
      out.release();
    });

  it('writes zeros for queries without keys and NaN for tables outside the views', async () => {
    const gpu = await getGpu(CORE);
    const heads = 2, d = 8, w = heads * d;
    const q = uploadValues(gpu, uniform(6 * w, 31), [6, w], 'f32');
    const kv = uploadValues(gpu, uniform(4 * 2 * w, 32), [4, 2 * w], 'f32');
    const cuQ = table(gpu, [2, 2, 2]);
    // Segment 1 has no keys (zeros); segment 2 reads rows 3..5 of a 4-row k/v (NaN).
    const cuKv = uploadValues(gpu, [0, 3, 3, 5], [4], 'u32');
    const out = gpu.tensor([6, w], 'f32');
    poison(gpu, out);
    const rec = gpu.recorder();
    segmentedAttention(rec, gpu, {
      q: { t: q, stride: w, offset: 0 }, k: { t: kv, stride: 2 * w, offset: 0 }, v: { t: kv, stride: 2 * w, offset: w },
      cuQ: cuQ.t, cuKv, heads, kvHeads: heads, headDim: d, scale: 0.3, out,
    });
    rec.submit();
    const got = await gpu.read(out);
    expect(got.slice(0, 2 * w).every(Number.isFinite)).toBe(true);
    expect(Array.from(got.slice(2 * w, 4 * w))).toEqual(new Array(2 * w).fill(0));
    expect(got.slice(4 * w).every(Number.isNaN)).toBe(true);
    out.release();
  });

  it('rejects bad shapes with ShapeError', async () => {
    const gpu = await getGpu(CORE);
    const t = uploadValues(gpu, uniform(8 * 48, 41), [8, 48], 'f32');
    const cu = table(gpu, [8]).t;
    const out = gpu.tensor([8, 16], 'f32');
    const base = { q: { t, stride: 48, offset: 0 }, k: { t, stride: 48, offset: 16 }, v: { t, stride: 48, offset: 32 },
      cuQ: cu, cuKv: cu, heads: 2, kvHeads: 2, headDim: 8, scale: 1, out };
    const rec = gpu.recorder();
    expect(() => segmentedAttention(rec, gpu, { ...base, kvHeads: 3 })).toThrow(ShapeError);
    expect(() => segmentedAttention(rec, gpu, { ...base, heads: 1, kvHeads: 1, headDim: 6 })).toThrow(ShapeError);
    expect(() => segmentedAttention(rec, gpu, { ...base, k: { t, stride: 48, offset: 18 } })).toThrow(ShapeError);
    expect(() => segmentedAttention(rec, gpu, { ...base, cuKv: table(gpu, [4, 4]).t })).toThrow(ShapeError);
    expect(() => segmentedAttention(rec, gpu, { ...base, out: gpu.tensor([8, 16], 'f16' as const) })).toThrow(ShapeError);
    expect(() => segmentedAttention(rec, gpu, { ...base, q: { t, stride: 48, offset: 40 } })).toThrow(ShapeError);
    out.release();
  });
});

describe('causalAttention and the KV cache', async () => {
  const all = await cases();

  /** Run prefill of `total` tokens through a KV cache in the given chunks; returns all output rows. */
  async function prefillInChunks(gpu: Gpu, dtype: ActDType, qkvVals: Float32Array, dims: { heads: number; kvHeads: number; d: number },
    total: number, chunks: readonly number[]): Promise<Float32Array> {
    const { heads, kvHeads, d } = dims;
    const w = heads * d, kw = kvHeads * d, stride = w + 2 * kw;
    const cache = new KvCache(gpu, { layers: 1, capacity: total + 3, kvHeads, headDim: d, dtype });
    const result = new Float32Array(total * w);
    const scale = 1 / Math.sqrt(d);
    let at = 0;
    for (const n of chunks) {
      // The chunk's own qkv buffer (as the model's qkv projection of the chunk would produce).
      const qkv = uploadValues(gpu, qkvVals.subarray(at * stride, (at + n) * stride), [n, stride], dtype);
      const out = gpu.tensor([n, w], dtype);
      poison(gpu, out);
      const rec = gpu.recorder();
      const past = cache.reserve(n);
      writeKv(rec, gpu, { t: qkv, stride, offset: w }, n, cache.k(0), past);
      writeKv(rec, gpu, { t: qkv, stride, offset: w + kw }, n, cache.v(0), past);
      causalAttention(rec, gpu, { q: { t: qkv, stride, offset: 0 }, rows: n, k: cache.kView(0), v: cache.vView(0),
        past, heads, kvHeads, headDim: d, scale, out });
      rec.submit();
      cache.commit(n);
      result.set(await gpu.read(out), at * w);
      out.release();
      gpu.destroyTensor(qkv);
      at += n;
    }
    cache.destroy();
    return result;
  }

  const shapes = [
    { heads: 2, kvHeads: 2, d: 16 },
    { heads: 4, kvHeads: 2, d: 8 },
    { heads: 14, kvHeads: 2, d: 128 },
  ];
  const pre = all.flatMap((c) => shapes.map((s) => ({ ...c, ...s })));
  it.each(pre)('chunked prefill + decode = one-shot = reference: $heads/$kvHeads x $d ($path.name, $dtype)',
    async ({ path, dtype, heads, kvHeads, d }) => {
      const gpu = await getGpu(path);
      const total = 41;
      const w = heads * d, kw = kvHeads * d, stride = w + 2 * kw;
      const vals = act(total, stride, 51, [0, 17, 30], 15);
      const stored = decode(encode(vals, dtype), dtype, vals.length);
      const oneShot = await prefillInChunks(gpu, dtype, vals, { heads, kvHeads, d }, total, [total]);
      // Chunks: a prefill, T=1 decode steps (flash-decoding path), a chunk with past > 0 of odd size.
      const chunked = await prefillInChunks(gpu, dtype, vals, { heads, kvHeads, d }, total, [9, 1, 1, 23, 1, 6]);
      const rv = (offset: number): RefView => ({ data: stored, stride, offset });
      const ref = refCausalAttention({ q: rv(0), rows: total, k: rv(w), v: rv(w + kw), past: 0, heads, kvHeads, headDim: d, scale: 1 / Math.sqrt(d) });
      expect(relError(oneShot, ref)).toBeLessThan(TOL[dtype]);
      expect(relError(chunked, ref)).toBeLessThan(TOL[dtype]);
    });

  it.each(all)('decode over a 3000-key context (split keys + combine) ($path.name, $dtype)', async ({ path, dtype }) => {
    const gpu = await getGpu(path);
    const heads = 7, kvHeads = 1, d = 128, ctx = 3000;
    expect(decodeSplits(ctx).splits).toBeGreaterThan(8);
    const w = heads * d, kw = kvHeads * d;
    const q = put(gpu, act(1, w, 61, [0], 3), [1, w], dtype);
    // Keys straight from a [ctx, k | v] buffer (not a cache): k rows 5 and 2900 are large.
    const kv = put(gpu, act(ctx, 2 * kw, 62, [5, 2900], 8), [ctx, 2 * kw], dtype);
    const out = gpu.tensor([1, w], dtype);
    poison(gpu, out);
    const rec = gpu.recorder();
    causalAttention(rec, gpu, { q: { t: q.t, stride: w, offset: 0 }, rows: 1, k: { t: kv.t, stride: 2 * kw, offset: 0 },
      v: { t: kv.t, stride: 2 * kw, offset: kw }, past: ctx - 1, heads, kvHeads, headDim: d, scale: 1 / Math.sqrt(d), out });
    rec.submit();
    const got = await gpu.read(out);
    const ref = refCausalAttention({ q: { data: q.stored, stride: w, offset: 0 }, rows: 1, k: { data: kv.stored, stride: 2 * kw, offset: 0 },
      v: { data: kv.stored, stride: 2 * kw, offset: kw }, past: ctx - 1, heads, kvHeads, headDim: d, scale: 1 / Math.sqrt(d) });
    expect(relError(got, ref)).toBeLessThan(TOL[dtype]);
    out.release();
  });

  it('KV cache: capacity, overflow, truncate', async () => {
    const gpu = await getGpu(CORE);
    const cache = new KvCache(gpu, { layers: 2, capacity: 8, kvHeads: 1, headDim: 8, dtype: 'f32' });
    const src = uploadValues(gpu, uniform(4 * 8, 71), [4, 8], 'f32');
    const rec = gpu.recorder();
    expect(cache.reserve(5)).toBe(0);
    writeKv(rec, gpu, { t: src, stride: 8, offset: 0 }, 4, cache.k(1), 0);
    cache.commit(4);
    writeKv(rec, gpu, { t: src, stride: 8, offset: 0 }, 3, cache.k(1), 4);
    cache.commit(3);
    rec.submit();
    expect(cache.length).toBe(7);
    expect(() => cache.reserve(2)).toThrow(ContextOverflowError);
    expect(() => cache.commit(2)).toThrow(ContextOverflowError);
    expect(() => writeKv(rec, gpu, { t: src, stride: 8, offset: 0 }, 2, cache.k(0), 7)).toThrow(ContextOverflowError);
    const got = await gpu.read(cache.k(1));
    const s = uniform(32, 71);
    expect(Array.from(got.slice(0, 32))).toEqual(Array.from(s));
    expect(Array.from(got.slice(32, 56))).toEqual(Array.from(s.slice(0, 24)));
    cache.truncate(3);
    expect(cache.length).toBe(3);
    expect(cache.reserve(5)).toBe(3);
    expect(() => cache.truncate(4)).toThrow(ShapeError);
    expect(() => cache.k(2)).toThrow(ShapeError);
    cache.destroy();
  });

  it('rejects bad causal arguments with ShapeError', async () => {
    const gpu = await getGpu(CORE);
    const t = uploadValues(gpu, uniform(4 * 32, 81), [4, 32], 'f32');
    const out = gpu.tensor([4, 16], 'f32');
    const base = { q: { t, stride: 32, offset: 0 }, rows: 4, k: { t, stride: 32, offset: 16 }, v: { t, stride: 32, offset: 24 },
      past: 0, heads: 2, kvHeads: 1, headDim: 8, scale: 1, out };
    const rec = gpu.recorder();
    expect(() => causalAttention(rec, gpu, { ...base, past: 1 })).toThrow(ShapeError); // 5 key rows, 4 exist
    expect(() => causalAttention(rec, gpu, { ...base, rows: 0 })).toThrow(ShapeError);
    expect(() => causalAttention(rec, gpu, { ...base, out: t })).toThrow(ShapeError);
    expect(() => causalAttention(rec, gpu, { ...base, scale: NaN })).toThrow(ShapeError);
    out.release();
  });
});

describe('attention self-test', () => {
  it('passes on the core path', async () => {
    const gpu = await getGpu(CORE);
    for (const c of selfTests) {
      const r = await c.run(gpu);
      expect(r.ok, `${c.name}: maxRelErr ${r.maxRelErr}`).toBe(true);
      expect(r.maxRelErr).toBeGreaterThan(0); // a real comparison happened (f32 vs float64 is never exact)
    }
  });
});
