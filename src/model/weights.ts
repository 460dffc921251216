// GPU weights of a whole ViLaVT / Qwen2.5-VL checkpoint, in the layout the forward passes use:
//  - matrices keep the checkpoint's 16-bit format (bf16 stays bf16: exact and half the memory of f32) unless
//    another storage dtype is asked for; 1-D parameters (norm weights, biases) are widened to f32;
//  - gate/up projections are fused row-wise into one [2I, D] matrix (one matmul, and silu(gate)*up reads it);
//  - the decoders' q/k/v projections are fused row-wise into one [(H + 2·KV)·hd, D] matrix (one matrix-vector
//    product per decode step; q, k and v are then strided views of its output);
//  - the ViT's fused qkv is split into q, k, v (separate [D, D] matrices keep every activation a plain tensor);
//  - the QA blocks' instruct key/value projections are fused into one [2D, D] matrix.
// Before the first GPU allocation the checkpoint is validated against weights-manifest.json and every matrix is
// checked to split into bindings by whole rows; a narrowing to f16 that overflows stops the load (and frees
// what was uploaded) before that tensor is uploaded.
import type { Gpu } from '../runtime/device.js';
import type { Tensor } from '../runtime/tensor.js';
import { bytesPerElement, decode, encode, type WeightDType } from '../runtime/dtype.js';
import type { Checkpoint } from './checkpoint.js';
import type { ModelConfig } from './config.js';
import { quantName, validateCheckpoint, type ExpectedTensor } from './manifest.js';
import { CheckpointError } from './errors.js';
import { bindingParts } from './memory-plan.js';
import { awqToQ4, concatQ4Rows, QWEIGHT, QZEROS, SCALES, sliceQ4Rows } from './awq.js';
import type { LinearWeight } from '../ops/matmul.js';
import { packQ4, uploadQ4, type Q4Parts, type Q4RowBlock } from '../ops/matmul-q4.js';
import { HostEmbedding, type EmbeddingTable } from './host-embedding.js';

/** A float matrix, or a 4-bit one where the checkpoint stores the layer quantized (AWQ, src/model/awq.ts). */
export interface LinearWeights { w: LinearWeight; b: Tensor | null }

export interface VisionBlockWeights {
  norm1: Tensor; norm2: Tensor;
  q: LinearWeights; k: LinearWeights; v: LinearWeights;
  proj: LinearWeights;
  gateUp: LinearWeights; down: LinearWeights;
  /** QA blocks only: rows 0..D-1 key projection, D..2D-1 value projection. */
  instructKv: LinearWeights | null;
}

export interface VisionWeights {
  patchEmbed: Tensor; // [D, C*T*P*P]
  blocks: VisionBlockWeights[];
  mergerNorm: Tensor;
  merger0: LinearWeights; merger2: LinearWeights;
}

export interface DecoderLayerWeights {
  inputNorm: Tensor; postNorm: Tensor;
  /** Rows: q (heads·hd), then k (kvHeads·hd), then v (kvHeads·hd). */
  qkv: LinearWeights; o: LinearWeights;
  qNorm: Tensor | null; kNorm: Tensor | null; // Qwen3 only
  gateUp: LinearWeights; down: LinearWeights;
}

export interface DecoderWeights {
  /** On the GPU, or in host memory (4-bit checkpoints: src/model/host-embedding.ts). */
  embed: EmbeddingTable;
  layers: DecoderLayerWeights[];
  norm: Tensor;
}

export interface LlmWeights extends DecoderWeights {
  /** The embedding table itself when tied (then always on the GPU), else lm_head (4-bit when stored so). */
  lmHead: LinearWeight;
}

export interface ModelWeights {
  vision: VisionWeights;
  llm: LlmWeights;
  textEncoder: DecoderWeights | null;
  textProj: LinearWeights | null;
  storage: WeightDType;
  bytes: number;
}

export interface LoadOptions {
  /** Storage dtype of matrices. Default: the checkpoint's own 16-bit type (bf16 for released checkpoints). */
  storage?: WeightDType;
  onProgress?: (done: number, total: number, name: string) => void;
  /**
   * Keep the embedding tables in host memory (a tied lm_head's stays on the GPU). Default: for 4-bit checkpoints,
   * whose point is a small GPU footprint; float checkpoints keep them on the GPU.
   */
  embeddingsOnHost?: boolean;
  /** The code layout of 4-bit weights with groups of `group` (the adapter's: src/ops/matmul-q4.ts q4RowBlock); default row-major. */
  q4RowBlock?: (group: number) => Q4RowBlock;
}

/** The part of the runtime's Gpu the loader uses (tests pass a recording fake). */
export type WeightUploader = Pick<Gpu, 'maxBindingBytes' | 'upload' | 'destroyTensor' | 'flushErrors'>;

const SRC_DTYPES: Record<string, WeightDType> = { BF16: 'bf16', F16: 'f16', F32: 'f32' };

export async function loadModelWeights(gpu: WeightUploader, ckpt: Checkpoint, opts: LoadOptions = {}): Promise<ModelWeights> {
  const cfg = ckpt.config;
  const report = validateCheckpoint(ckpt, cfg); // one error listing every problem, before any allocation
  const quantized = report.quantized;
  checkFusedAlike(report.expected, quantized);
  // The checkpoint's own float type: that of its first float matrix (AWQ checkpoints keep the rest in F16).
  const firstMatrix = report.expected.find((e) => e.shape.length > 1 && ckpt.tensors.has(e.name));
  const storage: WeightDType = opts.storage ?? SRC_DTYPES[firstMatrix ? ckpt.tensors.get(firstMatrix.name)!.info.dtype : 'BF16'] ?? 'bf16';
  checkRowsFit(ckpt, report.expected, quantized, storage, gpu.maxBindingBytes);
  const uploaded: Tensor[] = [];
  let bytes = 0;
  const total = countUploads(cfg);
  let done = 0;

  const info = (name: string) => {
    const loc = ckpt.tensors.get(name);
    if (!loc) throw new CheckpointError({ tensor: name, message: 'missing' });
    return loc;
  };
  /** Raw values of one tensor converted to `dtype` bytes. */
  const readAs = async (name: string, dtype: WeightDType): Promise<Uint8Array> => {
    const loc = info(name);
    const src = SRC_DTYPES[loc.info.dtype];
    if (!src) throw new CheckpointError({ file: loc.file, tensor: name, message: `unsupported dtype ${loc.info.dtype}` });
    const raw = await ckpt.read(name);
    if (raw.byteLength !== loc.info.byteLength) {
      throw new CheckpointError({ file: loc.file, tensor: name, message: `read ${raw.byteLength} bytes, expected ${loc.info.byteLength}` });
    }
    const n = loc.info.shape.reduce((a, b) => a * b, 1);
    const out = src === dtype ? raw : encode(decode(raw, src, n), dtype);
    if (dtype === 'f16' && !finiteF16(out)) {
      throw new CheckpointError({ file: loc.file, tensor: name, message: 'values overflow f16 storage; load with storage bf16 or f32' });
    }
    // 1-D parameters (norm weights, biases) are widened to f32 on the CPU anyway: checking them is free, and a NaN
    // there turns every activation into NaN (the decode-time guard would only catch it at the first sample).
    if (dtype === 'f32' && loc.info.shape.length === 1) {
      const values = new Float32Array(out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength));
      const bad = values.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) {
        throw new CheckpointError({ file: loc.file, tensor: name, message: `element ${bad} is ${values[bad]}: a 1-D parameter must be finite (corrupt checkpoint)` });
      }
    }
    return out;
  };
  const put = (data: Uint8Array, shape: number[], dtype: WeightDType, label: string): Tensor => {
    const t = gpu.upload(data, shape, dtype, label);
    uploaded.push(t);
    bytes += t.byteLength;
    opts.onProgress?.(++done, total, label);
    return t;
  };
  const vec = async (name: string): Promise<Tensor> => put(await readAs(name, 'f32'), [info(name).info.shape.reduce((a, b) => a * b, 1)], 'f32', name);
  const mat = async (name: string, shape?: number[]): Promise<Tensor> => {
    const s = info(name).info.shape;
    return put(await readAs(name, storage), shape ?? [s[0]!, s.slice(1).reduce((a, b) => a * b, 1)], storage, name);
  };
  /** The codes, zero points and scales of a 4-bit weight `name` (its AWQ tensors). */
  const readQ4 = async (name: string): Promise<Q4Parts> => {
    const [out, inDim] = report.expected.find((e) => e.name === name)!.shape as [number, number];
    const [qw, qz, sc] = await Promise.all([QWEIGHT, QZEROS, SCALES].map((s) => ckpt.read(quantName(name, s))));
    return awqToQ4(qw!, qz!, sc!, out, inDim, quantized.get(name)!);
  };
  const putQ4 = (q: Q4Parts, label: string): LinearWeight => {
    const w = uploadQ4(gpu, packQ4(q, opts.q4RowBlock?.(q.group) ?? 1), q.n, q.k, q.group, label);
    for (const sl of w.slices) uploaded.push(sl.codes, sl.groups);
    bytes += w.byteLength;
    opts.onProgress?.(++done, total, label);
    return w;
  };
  /** A linear weight as the checkpoint stores it: 4-bit where quantized, else a matrix in `storage`. */
  const linW = async (name: string): Promise<LinearWeight> => (quantized.has(name) ? putQ4(await readQ4(name), name) : mat(name));
  const lin = async (prefix: string, bias: boolean): Promise<LinearWeights> => ({
    w: await linW(`${prefix}.weight`), b: bias ? await vec(`${prefix}.bias`) : null,
  });
  /** Concatenate rows of several matrices (and their biases) into one. */
  const fused = async (prefixes: string[], bias: boolean, label: string): Promise<LinearWeights> => {
    const biasOf = async (): Promise<Tensor | null> => {
      if (!bias) return null;
      const bs = await Promise.all(prefixes.map((p) => readAs(`${p}.bias`, 'f32')));
      return put(concatBytes(bs), [bs.reduce((s, b) => s + b.byteLength / 4, 0)], 'f32', `${label}.bias`);
    };
    if (quantized.has(`${prefixes[0]}.weight`)) {
      const qs = await Promise.all(prefixes.map((p) => readQ4(`${p}.weight`)));
      return { w: putQ4(concatQ4Rows(qs), `${label}.weight`), b: await biasOf() };
    }
    const parts = await Promise.all(prefixes.map((p) => readAs(`${p}.weight`, storage)));
    const rows = prefixes.reduce((s, p) => s + info(`${p}.weight`).info.shape[0]!, 0);
    const cols = info(`${prefixes[0]}.weight`).info.shape[1]!;
    const w = put(concatBytes(parts), [rows, cols], storage, `${label}.weight`);
    let b: Tensor | null = null;
    if (bias) {
      const bs = await Promise.all(prefixes.map((p) => readAs(`${p}.bias`, 'f32')));
      b = put(concatBytes(bs), [rows], 'f32', `${label}.bias`);
    }
    return { w, b };
  };
  /** Row slices of one matrix (the ViT's fused qkv) as separate tensors. */
  const splitRows = async (prefix: string, pieces: number): Promise<LinearWeights[]> => {
    const b = await readAs(`${prefix}.bias`, 'f32');
    if (quantized.has(`${prefix}.weight`)) {
      const q = await readQ4(`${prefix}.weight`);
      const r = q.n / pieces;
      return Array.from({ length: pieces }, (_, i) => ({
        w: putQ4(sliceQ4Rows(q, i * r, (i + 1) * r), `${prefix}.weight[${i}]`),
        b: put(b.slice(i * r * 4, (i + 1) * r * 4), [r], 'f32', `${prefix}.bias[${i}]`),
      }));
    }
    const [rows, cols] = info(`${prefix}.weight`).info.shape as [number, number];
    const w = await readAs(`${prefix}.weight`, storage);
    const r = rows / pieces;
    const wb = (storage === 'f32' ? 4 : 2) * r * cols;
    return Array.from({ length: pieces }, (_, i) => ({
      w: put(w.slice(i * wb, (i + 1) * wb), [r, cols], storage, `${prefix}.weight[${i}]`),
      b: put(b.slice(i * r * 4, (i + 1) * r * 4), [r], 'f32', `${prefix}.bias[${i}]`),
    }));
  };

  try {
    const v = cfg.vision;
    const qa = new Set(v.qaBlocks);
    const blocks: VisionBlockWeights[] = [];
    const patchEmbed = await mat('visual.patch_embed.proj.weight');
    for (let i = 0; i < v.depth; i++) {
      const p = `visual.blocks.${i}`;
      const [q, k, vv] = await splitRows(`${p}.attn.qkv`, 3) as [LinearWeights, LinearWeights, LinearWeights];
      blocks.push({
        norm1: await vec(`${p}.norm1.weight`), norm2: await vec(`${p}.norm2.weight`),
        q, k, v: vv,
        proj: await lin(`${p}.attn.proj`, true),
        gateUp: await fused([`${p}.mlp.gate_proj`, `${p}.mlp.up_proj`], true, `${p}.mlp.gate_up_proj`),
        down: await lin(`${p}.mlp.down_proj`, true),
        instructKv: qa.has(i) ? await fused([`${p}.attn.instruct_key_proj`, `${p}.attn.instruct_value_proj`], true, `${p}.attn.instruct_kv_proj`) : null,
      });
    }
    const vision: VisionWeights = {
      patchEmbed, blocks,
      mergerNorm: await vec('visual.merger.ln_q.weight'),
      merger0: await lin('visual.merger.mlp.0', true),
      merger2: await lin('visual.merger.mlp.2', true),
    };

    const onHost = opts.embeddingsOnHost ?? quantized.size > 0;
    const table = async (name: string, host: boolean): Promise<EmbeddingTable> => {
      if (!host) return mat(name);
      const loc = info(name);
      const dtype = SRC_DTYPES[loc.info.dtype]!;
      const t = new HostEmbedding(loc.info.shape[0]!, loc.info.shape[1]!, dtype, await readAs(name, dtype), name);
      opts.onProgress?.(++done, total, name);
      return t;
    };
    const decoder = async (prefix: string, layers: number, qwen3: boolean, hostEmbed: boolean): Promise<DecoderWeights> => {
      const out: DecoderLayerWeights[] = [];
      for (let i = 0; i < layers; i++) {
        const p = `${prefix}layers.${i}`;
        out.push({
          inputNorm: await vec(`${p}.input_layernorm.weight`), postNorm: await vec(`${p}.post_attention_layernorm.weight`),
          qkv: await fused([`${p}.self_attn.q_proj`, `${p}.self_attn.k_proj`, `${p}.self_attn.v_proj`], !qwen3, `${p}.self_attn.qkv_proj`),
          o: await lin(`${p}.self_attn.o_proj`, false),
          qNorm: qwen3 ? await vec(`${p}.self_attn.q_norm.weight`) : null,
          kNorm: qwen3 ? await vec(`${p}.self_attn.k_norm.weight`) : null,
          gateUp: await fused([`${p}.mlp.gate_proj`, `${p}.mlp.up_proj`], false, `${p}.mlp.gate_up_proj`),
          down: await lin(`${p}.mlp.down_proj`, false),
        });
      }
      return { embed: await table(`${prefix}embed_tokens.weight`, hostEmbed), layers: out, norm: await vec(`${prefix}norm.weight`) };
    };
    const tied = cfg.llm.tieEmbeddings || !report.expected.some((e) => e.name === 'lm_head.weight');
    const llmBody = await decoder('model.', cfg.llm.layers, false, onHost && !tied);
    const lmHead = tied ? llmBody.embed as Tensor : await linW('lm_head.weight');
    const textEncoder = cfg.textEncoder ? await decoder('text_encoder.', cfg.textEncoder.layers, true, onHost) : null;
    const textProj = cfg.textProj ? await lin('text_proj', true) : null;
    await gpu.flushErrors(); // surfaces an out-of-memory during the uploads as OutOfMemoryError
    return { vision, llm: { ...llmBody, lmHead }, textEncoder, textProj, storage, bytes };
  } catch (e) {
    for (const t of uploaded) gpu.destroyTensor(t); // nothing half-loaded stays on the GPU
    throw e;
  }
}

export function destroyModelWeights(gpu: Gpu, w: ModelWeights): void {
  const seen = new Set<Tensor>();
  const visit = (x: unknown): void => {
    if (!x || typeof x !== 'object') return;
    if ('parts' in (x as object) && 'dtype' in (x as object)) {
      const t = x as Tensor;
      if (!seen.has(t)) { seen.add(t); gpu.destroyTensor(t); }
      return;
    }
    for (const v of Object.values(x as object)) visit(v);
  };
  visit(w);
}

/**
 * Every matrix is uploaded as [rows, cols] in `storage` and split by whole rows across bindings, so one row over
 * the binding limit can never be bound: reported for all such tensors at once. (1-D parameters are f32 rows of
 * one element; fused and split matrices keep their source's row width.)
 */
function checkRowsFit(ckpt: Checkpoint, expected: readonly ExpectedTensor[], quantized: ReadonlyMap<string, number>,
  storage: WeightDType, maxBindingBytes: number): void {
  const limits = { maxBufferSize: maxBindingBytes, maxStorageBufferBindingSize: maxBindingBytes };
  // A 4-bit row takes half a byte per element (its code words; group words are bound separately and smaller).
  const tooWide = expected.filter((e) => e.shape.length > 1 && (ckpt.tensors.has(e.name) || quantized.has(e.name)) &&
    bindingParts(e.shape, quantized.has(e.name) ? 0.5 : bytesPerElement(storage), limits).parts === 0);
  if (tooWide.length) {
    throw new CheckpointError(
      tooWide.map((e) => ({ file: (ckpt.tensors.get(e.name) ?? ckpt.tensors.get(quantName(e.name, QWEIGHT)))?.file, tensor: e.name, message: `one row of [${e.shape}] ${storage} exceeds the ${maxBindingBytes}-byte binding limit` })),
      'weights cannot be split into GPU bindings',
    );
  }
}

/**
 * Matrices the loader fuses by rows (gate/up, the QA blocks' instruct key/value) must be stored alike: both
 * 4-bit or both float. Checked before any allocation.
 */
function checkFusedAlike(expected: readonly ExpectedTensor[], quantized: ReadonlyMap<string, number>): void {
  const pairs: [string, string][] = [['.mlp.gate_proj.weight', '.mlp.up_proj.weight'], ['.attn.instruct_key_proj.weight', '.attn.instruct_value_proj.weight']];
  const problems = [];
  for (const e of expected) {
    for (const [a, b] of pairs) {
      if (!e.name.endsWith(a)) continue;
      const other = e.name.slice(0, -a.length) + b;
      if (quantized.has(e.name) !== quantized.has(other)) {
        problems.push({ tensor: quantized.has(e.name) ? other : e.name, message: `must be 4-bit like ${quantized.has(e.name) ? e.name : other} (the two are fused into one matrix), or both float` });
      }
    }
  }
  if (problems.length) throw new CheckpointError(problems, 'checkpoint mixes 4-bit and float matrices that are fused');
}

/** False if narrowing produced an infinity (f16 max is 65504); f16 bits are packed two per u32, low half first. */
function finiteF16(bytes: Uint8Array): boolean {
  const u16 = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
  for (let i = 0; i < u16.length; i++) if ((u16[i]! & 0x7fff) === 0x7c00) return false;
  return true;
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.byteLength, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.byteLength; }
  return out;
}

function countUploads(cfg: ModelConfig): number {
  const v = cfg.vision;
  const vision = 1 + v.depth * (2 + 6 + 2 + 2 + 2) + 2 * v.qaBlocks.length + 5;
  const dec = (layers: number, q3: boolean) => 2 + layers * (q3 ? 8 : 7);
  return vision + dec(cfg.llm.layers, false) + (cfg.llm.tieEmbeddings ? 0 : 1)
    + (cfg.textEncoder ? dec(cfg.textEncoder.layers, true) : 0) + (cfg.textProj ? 2 : 0);
}
