// The Qwen2.5 language model on the GPU (MODEL.md §5): token embedding with image features scattered into the
// <|image_pad|> rows, M-RoPE, GQA attention over a KV cache that stays on the GPU, prefill in bounded chunks (one
// huge image cannot exhaust memory) and a decode step that is one submit whose only readback is the sampled token.
import type { Gpu } from '../runtime/device.js';
import type { ActDType } from '../runtime/dtype.js';
import { checkpointAbort } from '../runtime/cancel.js';
import { NonFiniteError, ShapeError } from '../runtime/errors.js';
import type { Recorder } from '../runtime/recorder.js';
import type { Tensor } from '../runtime/tensor.js';
import { linear, linearSiluMul } from '../ops/matmul.js';
import { rmsNorm } from '../ops/rmsnorm.js';
import { siluMul } from '../ops/activation.js';
import { ropeWriteKv } from '../ops/rope.js';
import { causalAttention } from '../ops/attention.js';
import { embed, gatherRows, scatterRows } from '../ops/rows.js';
import { argmax, sampleTopP, sampledToken } from '../ops/sample.js';
import { rowsOf } from '../ops/view.js';
import type { LlmConfig } from './config.js';
import type { LlmWeights } from './weights.js';
import { KvCache } from './kv-cache.js';
import { mropeTable } from '../ops/rope-tables.js';
import { chunkRows, rowGranularity, sliceRows, uploadF32, uploadU32 } from './gpu-util.js';
import { embedTokens, isHostEmbedding } from './host-embedding.js';

export interface ImageRows {
  /** [n, hidden] features of every image of the sequence being appended, in order. */
  features: Tensor;
  /** Index within the appended ids of each <|image_pad|> row, in order (n entries). */
  padRows: readonly number[];
}

export interface PrefillOptions {
  /** 'last': logits of the last appended row only (generation); 'all': every row (tests, goldens). */
  logits: 'last' | 'all' | 'none';
  /** Rows per chunk (default: bounded by the binding limit and 512). */
  chunk?: number;
  /** Residual stream after each layer, per row (goldens). */
  captureLayers?: Float32Array[][];
  /** Sample the next token from the last row on the GPU into `state.token` (generation). */
  sample?: { state: DecodeState; sampling: Sampling };
  /** Checked between layers (each layer is then its own submit): an abort takes effect within one layer. */
  signal?: AbortSignal;
}

export type Sampling =
  | { kind: 'greedy' }
  | { kind: 'top-p'; temperature: number; topP: number; uniform: () => number };

/** Dispatches of one decoder layer in a decode step when no weight of the layer is split across bindings. */
export const DECODE_DISPATCHES_PER_LAYER = 7;

export class LanguageModel {
  constructor(
    private readonly gpu: Gpu,
    readonly cfg: LlmConfig,
    readonly w: LlmWeights,
    readonly act: ActDType,
  ) {}

  newCache(capacity: number): KvCache {
    return new KvCache(this.gpu, { layers: this.cfg.layers, kvHeads: this.cfg.kvHeads, headDim: this.cfg.headDim, capacity, dtype: this.act });
  }

  /** Default chunk: the MLP intermediate [rows, 2I] is the largest activation. */
  private chunkSize(): number {
    const eb = this.act === 'f32' ? 4 : 2;
    const byMlp = Math.floor(this.gpu.maxBindingBytes / (2 * this.cfg.intermediate * eb));
    return Math.max(1, Math.min(512, byMlp));
  }

  /**
   * Append `ids` (with their M-RoPE `positions` [3, L]) to the cache and run them through the model. Returns
   * logits rows as requested (f32 values), or null for 'none'.
   */
  async prefill(cache: KvCache, ids: readonly number[], positions: Int32Array, images: ImageRows | null, opts: PrefillOptions): Promise<Float32Array | null> {
    const { gpu, cfg, w, act } = this;
    const L = ids.length;
    if (positions.length !== 3 * L) throw new ShapeError(`positions must be [3, ${L}], got ${positions.length} values`);
    if (images && images.padRows.length !== images.features.rows) {
      throw new ShapeError(`${images.padRows.length} <|image_pad|> tokens but ${images.features.rows} image feature rows`);
    }
    for (const id of ids) if (!Number.isInteger(id) || id < 0 || id >= cfg.vocab) throw new ShapeError(`token id ${id} outside the vocabulary of ${cfg.vocab}`);
    cache.reserve(L); // ContextOverflowError before any work
    const C = Math.min(opts.chunk ?? this.chunkSize(), Math.max(L, 1));
    const D = cfg.hidden;
    const V = cfg.vocab;
    const wantAll = opts.logits === 'all';
    const out = opts.logits === 'none' ? null : new Float32Array((wantAll ? L : 1) * V);
    const rec = gpu.recorder();
    const s = this.scratch(C);
    const owned: Tensor[] = [];
    try {
      for (let c0 = 0; c0 < L; c0 += C) {
        const n = Math.min(C, L - c0);
        const past = cache.length;
        const idsT = uploadU32(gpu, ids.slice(c0, c0 + n), 'llm.ids'); owned.push(idsT);
        const x = n === C ? s.x : sliceRows(gpu, s.x, 0, n);
        embedTokens(rec, gpu, w.embed, ids.slice(c0, c0 + n), idsT, x, owned);
        if (images) {
          const featRows: number[] = [];
          const chunkRows: number[] = [];
          images.padRows.forEach((r, f) => { if (r >= c0 && r < c0 + n) { featRows.push(f); chunkRows.push(r - c0); } });
          if (featRows.length) {
            const fi = uploadU32(gpu, featRows, 'llm.featRows'); owned.push(fi);
            const ci = uploadU32(gpu, chunkRows, 'llm.padRows'); owned.push(ci);
            const tmp = gpu.tensor([featRows.length, D], act, 'llm.imageRows'); owned.push(tmp);
            gatherRows(rec, gpu, images.features, fi, tmp, 1);
            scatterRows(rec, gpu, tmp, ci, x, 1);
          }
        }
        const pos = new Int32Array(3 * n);
        for (let a = 0; a < 3; a++) pos.set(positions.subarray(a * L + c0, a * L + c0 + n), a * n);
        const rope = uploadF32(gpu, mropeTable(pos, cfg.headDim, cfg.mropeSection, cfg.ropeTheta), [n, cfg.headDim], 'llm.rope');
        owned.push(rope);
        for (let l = 0; l < cfg.layers; l++) {
          this.recordLayer(rec, l, cache, x, n, past, rope, s, n === C ? null : n);
          if (opts.captureLayers) {
            rec.submit();
            (opts.captureLayers[l] ??= []).push(await gpu.read(x));
          }
          await checkpointAbort(gpu, rec, opts.signal);
        }
        cache.commit(n);
        if (opts.sample && c0 + n === L) {
          const { state, sampling } = opts.sample;
          rmsNorm(rec, gpu, lastRow(rec, gpu, x, n - 1, s.last), w.norm, state.h, cfg.rmsEps);
          linear(rec, gpu, state.h, w.lmHead, null, state.logits);
          recordSampling(rec, gpu, state, sampling);
          rec.copy(state.token.buffer, state.token.part.byteOffset, state.readback, 0, 4);
          rec.submit();
        }
        if (out) {
          const rows = wantAll ? n : (c0 + n === L ? 1 : 0);
          if (rows > 0) {
            const src = wantAll ? x : lastRow(rec, gpu, x, n - 1, s.last);
            const normed = rows === C ? s.h : sliceRows(gpu, s.h, 0, rows);
            rmsNorm(rec, gpu, src, w.norm, normed, cfg.rmsEps);
            // Logits rows in sub-chunks: [rows, vocab] can exceed one binding (152064 columns for the 7B).
            const eb = act === 'f32' ? 4 : 2;
            const lc = chunkRows(gpu, rows, V * eb, rowGranularity(gpu, [cfg.hidden * eb, V * eb]));
            const logits = gpu.tensor([lc, V], act, 'llm.logits');
            for (let r = 0; r < rows; r += lc) {
              const m = Math.min(lc, rows - r);
              linear(rec, gpu, m === rows ? normed : sliceRows(gpu, normed, r, m), w.lmHead, null, m === lc ? logits : sliceRows(gpu, logits, 0, m));
              rec.submit();
              const vals = await gpu.read(logits);
              out.set(vals.subarray(0, m * V), (wantAll ? c0 : 0) * V + r * V);
            }
            logits.release();
          }
        }
        rec.submit();
      }
      await gpu.flushErrors();
      return out;
    } finally {
      rec.release();
      s.release();
      for (const t of owned) t.release();
    }
  }

  /** Per-chunk scratch activations (pooled). */
  private scratch(C: number) {
    const { gpu, cfg, act } = this;
    const hd = cfg.headDim;
    const t = {
      x: gpu.tensor([C, cfg.hidden], act, 'llm.x'),
      h: gpu.tensor([C, cfg.hidden], act, 'llm.h'),
      qkv: gpu.tensor([C, (cfg.heads + 2 * cfg.kvHeads) * hd], act, 'llm.qkv'),
      o: gpu.tensor([C, cfg.heads * hd], act, 'llm.o'),
      gu: gpu.tensor([C, 2 * cfg.intermediate], act, 'llm.gu'),
      a: gpu.tensor([C, cfg.intermediate], act, 'llm.a'),
      last: gpu.tensor([1, cfg.hidden], act, 'llm.last'),
      release() { for (const v of [t.x, t.h, t.qkv, t.o, t.gu, t.a, t.last]) v.release(); },
    };
    return t;
  }

  /**
   * Record decoder layer l for `n` rows of x at cache positions past..past+n-1 (x updated in place).
   * One row (decode) takes the fused path, DECODE_DISPATCHES_PER_LAYER dispatches when no weight is split across
   * bindings: norm + qkv, rope + KV write, attention (2), o + residual, norm + gate/up + SiLU·up, down + residual.
   * Prefill chunks share the fused qkv and rope + KV write and keep separate norms and SiLU (matmul kernels).
   */
  private recordLayer(rec: Recorder, l: number, cache: KvCache, x: Tensor, n: number, past: number, rope: Tensor,
    s: ReturnType<LanguageModel['scratch']>, partial: number | null): void {
    const { gpu, cfg, w } = this;
    const hd = cfg.headDim;
    const sub = (t: Tensor) => (partial === null ? t : sliceRows(gpu, t, 0, partial));
    const h = sub(s.h), qkv = sub(s.qkv), o = sub(s.o), gu = sub(s.gu), a = sub(s.a);
    const Lw = w.layers[l]!;
    const eps = cfg.rmsEps;
    const decode = n === 1;
    if (decode) linear(rec, gpu, x, Lw.qkv.w, Lw.qkv.b, qkv, { norm: { weight: Lw.inputNorm, eps } });
    else {
      rmsNorm(rec, gpu, x, Lw.inputNorm, h, eps);
      linear(rec, gpu, h, Lw.qkv.w, Lw.qkv.b, qkv);
    }
    ropeWriteKv(rec, gpu, { qkv, rows: n, heads: cfg.heads, kvHeads: cfg.kvHeads, headDim: hd, table: rope, kCache: cache.k(l), vCache: cache.v(l), at: past });
    causalAttention(rec, gpu, {
      q: { t: qkv, stride: qkv.rowSize, offset: 0 }, rows: n, k: rowsOf(cache.k(l)), v: rowsOf(cache.v(l)), past,
      heads: cfg.heads, kvHeads: cfg.kvHeads, headDim: hd, scale: 1 / Math.sqrt(hd), out: o,
    });
    linear(rec, gpu, o, Lw.o.w, Lw.o.b, x, { accumulate: true });
    if (decode) linearSiluMul(rec, gpu, x, Lw.gateUp.w, a, { norm: { weight: Lw.postNorm, eps } });
    else {
      rmsNorm(rec, gpu, x, Lw.postNorm, h, eps);
      linear(rec, gpu, h, Lw.gateUp.w, null, gu);
      siluMul(rec, gpu, gu, a);
    }
    linear(rec, gpu, a, Lw.down.w, null, x, { accumulate: true });
  }

  /**
   * One decode step as a single submit: embed the token held in `token` (u32[1] on the GPU, written by the
   * previous step's sampler or by the caller), run every layer at `position`, and sample the next token into
   * `token`. Returns the sampled id (the only readback) and optionally the logits (tests).
   */
  async decodeStep(cache: KvCache, step: DecodeState, position: number, sampling: Sampling, wantLogits = false): Promise<{ token: number; logits?: Float32Array }> {
    const { gpu, cfg, w, act } = this;
    cache.reserve(1);
    const past = cache.length;
    const hd = cfg.headDim;
    const rec = step.rec;
    step.position[0] = step.position[1] = step.position[2] = position;
    mropeTable(step.position, hd, cfg.mropeSection, cfg.ropeTheta, step.ropeValues);
    gpu.write(step.rope, step.ropeBytes);
    if (isHostEmbedding(w.embed)) {
      // The step's recorder was submitted and awaited by the previous step: x is free to overwrite now.
      if (step.lastToken === null) throw new ShapeError('decodeStep: no sampled token yet (prefill with sampling first)');
      gpu.write(step.x, w.embed.gather([step.lastToken], act));
    } else embed(rec, gpu, w.embed, step.token, step.x);
    for (let l = 0; l < cfg.layers; l++) this.recordLayer(rec, l, cache, step.x, 1, past, step.rope, step.s, null);
    linear(rec, gpu, step.x, w.lmHead, null, step.logits, { norm: { weight: w.norm, eps: cfg.rmsEps } });
    recordSampling(rec, gpu, step, sampling);
    rec.copy(step.token.buffer, step.token.part.byteOffset, step.readback, 0, 4);
    rec.submit();
    cache.commit(1);
    const token = await step.readToken(`decode step at position ${position}`);
    const logits = wantLogits ? await gpu.read(step.logits) : undefined;
    return { token, logits };
  }

  /** Prefill `ids` and sample the next token on the GPU; returns it (the only readback). */
  async prefillAndSample(cache: KvCache, ids: readonly number[], positions: Int32Array, images: ImageRows | null, state: DecodeState, sampling: Sampling,
    signal?: AbortSignal): Promise<number> {
    await this.prefill(cache, ids, positions, images, { logits: 'none', sample: { state, sampling }, signal });
    return state.readToken(`the prefill of ${ids.length} tokens`);
  }

  /** Persistent per-conversation decode state (scratch, token buffer, rope table): created once, reused. */
  decodeState(): DecodeState {
    const { gpu, cfg, act } = this;
    const s = this.scratch(1);
    const token = gpu.tensor([1], 'u32', 'llm.token');
    const rope = gpu.upload(new Uint8Array(cfg.headDim * 4), [1, cfg.headDim], 'f32', 'llm.decodeRope');
    const logits = gpu.tensor([1, cfg.vocab], act, 'llm.decodeLogits');
    const rec = gpu.recorder();
    const ropeValues = new Float32Array(cfg.headDim);
    // The sampled id is copied here inside the step's own submit, so a step costs one submit and one 4-byte map.
    const readback = gpu.createBuffer(4, 0x01 /* MAP_READ */ | 0x08 /* COPY_DST */, 'llm.tokenReadback');
    const state: DecodeState = {
      s, token, rope, logits, rec, readback, x: s.x, h: s.h, position: new Int32Array(3), ropeValues, ropeBytes: new Uint8Array(ropeValues.buffer),
      lastToken: null,
      setToken: (id: number) => { state.lastToken = id; gpu.write(token, new Uint8Array(new Uint32Array([id]).buffer)); },
      readToken: async (step: string) => {
        try {
          await readback.mapAsync(0x0001 /* READ */);
        } catch (e) {
          gpu.assertUsable(); // a lost device becomes DeviceLostError
          throw e;
        }
        const word = new Uint32Array(readback.getMappedRange(0, 4))[0]!;
        readback.unmap();
        await gpu.flushErrors();
        const { token, nonFinite } = sampledToken(word);
        if (nonFinite) throw new NonFiniteError(step);
        state.lastToken = token;
        return token;
      },
      release: () => { rec.release(); s.release(); token.release(); logits.release(); gpu.destroyTensor(rope); gpu.destroyBuffer(readback); },
    };
    return state;
  }
}

export interface DecodeState {
  s: ReturnType<LanguageModel['scratch']>;
  token: Tensor;
  rope: Tensor;
  logits: Tensor;
  rec: Recorder;
  readback: GPUBuffer;
  x: Tensor;
  h: Tensor;
  /** Scratch for the step's (t, h, w) position and its rotary row (no per-token allocations). */
  position: Int32Array;
  ropeValues: Float32Array;
  ropeBytes: Uint8Array;
  setToken(id: number): void;
  /** Map the token the last submitted step sampled; NonFiniteError (naming `step`) when its logits were not finite. */
  readToken(step: string): Promise<number>;
  /** The token `readToken` last returned (what the next decode step embeds), null before the first. */
  lastToken: number | null;
  release(): void;
}

function recordSampling(rec: Recorder, gpu: Gpu, state: DecodeState, sampling: Sampling): void {
  if (sampling.kind === 'greedy') argmax(rec, gpu, state.logits, state.token);
  else sampleTopP(rec, gpu, state.logits, state.token, { temperature: sampling.temperature, topP: sampling.topP, uniform: sampling.uniform() });
}

/** Row r of x as a standalone tensor: a view when the binding offset is aligned, otherwise a recorded copy. */
function lastRow(rec: Recorder, gpu: Gpu, x: Tensor, r: number, scratch: Tensor): Tensor {
  const rowBytes = x.rowSize * (x.dtype === 'f16' ? 2 : 4);
  if ((r * rowBytes) % gpu.limits.minStorageBufferOffsetAlignment === 0) return sliceRows(gpu, x, r, 1);
  rec.copy(x.buffer, x.part.byteOffset + r * rowBytes, scratch.buffer, scratch.part.byteOffset, rowBytes);
  return scratch;
}
