// A language model with random 4-bit weights of any shape, built in memory without a checkpoint file (the decode
// benchmark's 7B-shaped model, and the decode-time tests). Decoder linears and lm_head are q4 (the layout
// `vilavt quantize` writes, loaded as src/ops/matmul-q4.ts slices), norms and biases f32, the embedding table bf16
// with `embedRows` rows (a decode step gathers one row: callers keep token ids below it).
import type { Gpu } from '../src/runtime/device.js';
import type { Tensor } from '../src/runtime/tensor.js';
import type { LlmConfig } from '../src/model/config.js';
import type { DecoderLayerWeights, LlmWeights } from '../src/model/weights.js';
import { LanguageModel } from '../src/model/llm.js';
import { destroyQ4, q4RowBlock, uploadQ4, type Q4Weight } from '../src/ops/matmul-q4.js';
import { numberToF16Bits } from '../src/runtime/dtype.js';
import { mulberry32 } from '../src/util/random.js';

const POOL_WORDS = 1 << 22; // 16 MiB of random code words, reused at rotating offsets

function randomWords(n: number, seed: number): Uint32Array {
  const next = mulberry32(seed);
  return Uint32Array.from({ length: n }, () => Math.floor(next() * 0x100000000));
}

/** Random 4-bit weights [n, k] with group words holding normal f16 scales (0.002..0.03) and random zero points. */
class RandomQ4 {
  private readonly codes = randomWords(POOL_WORDS, 12345);
  private readonly groups: Uint32Array;
  private at = 0;
  constructor(private readonly group: number) {
    const r = randomWords(1 << 16, 777);
    this.groups = Uint32Array.from(r, (v) => (numberToF16Bits(0.002 + 0.028 * ((v & 0xffff) / 0xffff)) | (((v >>> 16) & 15) << 16)) >>> 0);
  }
  private readonly made = new Map<string, Uint32Array>();
  /** n words from the pool (wrapping around). Layers of one shape share the array (uploads are copies). */
  private take(pool: Uint32Array, n: number, key: string): Uint32Array {
    const hit = this.made.get(`${key}:${n}`);
    if (hit) return hit;
    const out = new Uint32Array(n);
    for (let o = 0; o < n;) {
      const start = this.at % pool.length;
      const len = Math.min(n - o, pool.length - start);
      out.set(pool.subarray(start, start + len), o);
      o += len;
      this.at += 7919 + len; // rotate so tensors of different shapes differ
    }
    this.made.set(`${key}:${n}`, out);
    return out;
  }
  /** Random codes are random in any order: they are drawn straight in the adapter's code layout (no reordering). */
  weight(gpu: Gpu, n: number, k: number, label: string): Q4Weight {
    const rowBlock = q4RowBlock(gpu, this.group);
    const codes = this.take(this.codes, (Math.ceil(n / rowBlock) * rowBlock * k) / 8, 'codes');
    return uploadQ4(gpu, { codes, groups: this.take(this.groups, (n * k) / this.group, 'groups'), rowBlock }, n, k, this.group, label);
  }
}

function f32Tensor(gpu: Gpu, n: number, seed: number, lo: number, hi: number, label: string): Tensor {
  const w = randomWords(n, seed);
  const v = Float32Array.from(w, (x) => lo + (hi - lo) * (x / 0x100000000));
  return gpu.upload(new Uint8Array(v.buffer), [n], 'f32', label);
}

export interface RandomLlm { llm: LanguageModel; weightBytes: number; dispose(): void }

/** The model, the bytes one decode step reads of its weights (one embedding row), and its disposal. */
export function randomQ4Llm(gpu: Gpu, cfg: LlmConfig, act: 'f32' | 'f16', o: { group: number; embedRows: number }): RandomLlm {
  const rq = new RandomQ4(o.group);
  const D = cfg.hidden, I = cfg.intermediate, hd = cfg.headDim;
  const qkvRows = (cfg.heads + 2 * cfg.kvHeads) * hd;
  const q4s: Q4Weight[] = [];
  const tensors: Tensor[] = [];
  const q4 = (n: number, k: number, label: string) => { const w = rq.weight(gpu, n, k, label); q4s.push(w); return w; };
  const vec = (n: number, seed: number, lo: number, hi: number, label: string) => { const t = f32Tensor(gpu, n, seed, lo, hi, label); tensors.push(t); return t; };
  try {
    const layers: DecoderLayerWeights[] = [];
    for (let l = 0; l < cfg.layers; l++) {
      layers.push({
        inputNorm: vec(D, 10 * l + 1, 0.5, 1.5, `l${l}.input_norm`), postNorm: vec(D, 10 * l + 2, 0.5, 1.5, `l${l}.post_norm`),
        qkv: { w: q4(qkvRows, D, `l${l}.qkv`), b: vec(qkvRows, 10 * l + 3, -0.1, 0.1, `l${l}.qkv.bias`) },
        o: { w: q4(D, D, `l${l}.o`), b: null },
        qNorm: null, kNorm: null,
        gateUp: { w: q4(2 * I, D, `l${l}.gate_up`), b: null },
        down: { w: q4(D, I, `l${l}.down`), b: null },
      });
    }
    const embedWords = randomWords((o.embedRows * D) / 2, 99).map((v) => ((v & 0x807f807f) | 0x3c003c00) >>> 0); // bf16 in ±[0.0078, 0.0156)
    const embed = gpu.upload(new Uint8Array(embedWords.buffer), [o.embedRows, D], 'bf16', 'embed');
    tensors.push(embed);
    const lmHead = q4(cfg.vocab, D, 'lm_head');
    const w: LlmWeights = { embed, layers, norm: vec(D, 5, 0.5, 1.5, 'norm'), lmHead };
    const weightBytes = q4s.reduce((s, x) => s + x.byteLength, 0) + tensors.filter((t) => t !== embed).reduce((s, t) => s + t.byteLength, 0) + D * 2;
    return {
      llm: new LanguageModel(gpu, cfg, w, act),
      weightBytes,
      dispose: () => { for (const x of q4s) destroyQ4(gpu, x); for (const t of tensors) gpu.destroyTensor(t); },
    };
  } catch (e) {
    for (const x of q4s) destroyQ4(gpu, x);
    for (const t of tensors) gpu.destroyTensor(t);
    throw e;
  }
}

