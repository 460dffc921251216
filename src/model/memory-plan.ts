/**
 * Memory plan: bytes of every weight component for a storage dtype, the KV cache at a context length, an
 * activation-scratch estimate, and which tensors exceed the per-binding limit (the runtime splits those by
 * leading rows across several buffers). Tensor sizes come from the manifest, so the plan and the loader agree.
 */
import { formatBytes } from '../util/format.js';
import type { ModelConfig } from './config.js';
import { resolveManifest, type Component, type ExpectedTensor } from './manifest.js';
import { ShapeError } from '../runtime/errors.js';
import { rowsPerPart } from '../runtime/tensor.js';
import { numel } from './safetensors.js';

export type WeightDtype = 'bf16' | 'f16' | 'f32';
export type KvDtype = 'f32' | 'f16';

export interface DeviceLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
}

/** WebGPU's default (guaranteed) limits; adapters usually allow more when requested. */
export const WEBGPU_DEFAULT_LIMITS: DeviceLimits = { maxBufferSize: 268435456, maxStorageBufferBindingSize: 134217728 };

/** Canonical per-call pixel budget of the vLLM driver: 8192 * 28 * 28 (spec §2.1). */
export const DEFAULT_MAX_IMAGE_PIXELS = 8192 * 28 * 28;

export interface MemoryPlanOptions {
  contextTokens: number;
  weightDtype: WeightDtype;
  kvDtype: KvDtype;
  /** Activation dtype for the scratch estimate (default f32). */
  actDtype?: 'f32' | 'f16';
  /** Largest ViT call, in pixels (default 6,422,528). */
  maxImagePixels?: number;
  /** Tokens per prefill chunk (default 512). */
  prefillChunk?: number;
  limits?: DeviceLimits;
  /** Memory the engine may use; when given, `fits` also requires total <= budget. */
  budgetBytes?: number;
  /**
   * 4-bit weights (weight name -> group size): stored as half a byte per element plus one 4-byte word per group and
   * row (src/ops/matmul-q4.ts); every other matrix in `weightDtype`.
   */
  q4?: ReadonlyMap<string, number>;
  /** Embedding tables kept in host memory (src/model/host-embedding.ts; the engine does so for 4-bit checkpoints). */
  embeddingsOnHost?: boolean;
}

export interface WeightGroup {
  label: string;
  component: Component;
  tensors: number;
  params: number;
  bytes: number;
}

export interface SplitTensor {
  name: string;
  bytes: number;
  /** Bytes of one leading-dimension row. */
  rowBytes: number;
  /** Number of bindings (buffers) the tensor is split into. */
  parts: number;
}

export interface MemoryPlan {
  options: Required<Omit<MemoryPlanOptions, 'budgetBytes' | 'q4' | 'embeddingsOnHost'>> & { budgetBytes?: number; embeddingsOnHost: boolean; q4Tensors: number };
  weights: WeightGroup[];
  weightBytes: number;
  /** Embedding tables held in host (CPU) memory instead of on the GPU; not part of `total`. */
  hostBytes: number;
  params: number;
  kvCache: { bytesPerToken: number; bytes: number };
  scratch: { visionPatches: number; visionBytes: number; prefillBytes: number; bytes: number };
  total: number;
  /** Tensors larger than one binding, with the number of parts the runtime splits them into. */
  splits: SplitTensor[];
  fits: boolean;
  /** Why it does not fit (empty when it fits). */
  problems: string[];
}

const WEIGHT_BYTES: Record<WeightDtype, number> = { bf16: 2, f16: 2, f32: 4 };

function groupLabel(t: ExpectedTensor): string {
  if (t.role === 'llm.embed') return 'LLM embed_tokens';
  if (t.role === 'llm.lm_head') return 'LLM lm_head';
  if (t.component === 'llm') return 'LLM layers + norm';
  if (t.component === 'vision') return 'Vision tower';
  if (t.component === 'textEncoder') return 'Text encoder';
  return 'text_proj';
}

/**
 * How many row-split parts a tensor needs (0 when one row does not fit in a binding), with the runtime's own
 * splitting rule (`rowsPerPart`, which keeps packed 16-bit parts word-aligned).
 */
export function bindingParts(shape: readonly number[], elemBytes: number, limits: DeviceLimits): { rowBytes: number; parts: number } {
  const rows = shape.length ? shape[0]! : 1;
  const rowBytes = (shape.length ? numel(shape.slice(1)) : 1) * elemBytes;
  const limit = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  // Buffers are padded to 4 bytes, as the runtime allocates them.
  if (Math.ceil((rows * rowBytes) / 4) * 4 <= limit) return { rowBytes, parts: 1 };
  try {
    return { rowBytes, parts: Math.ceil(rows / rowsPerPart(rowBytes, limit)) };
  } catch (e) {
    if (e instanceof ShapeError) return { rowBytes, parts: 0 };
    throw e;
  }
}

export function planMemory(config: ModelConfig, opts: MemoryPlanOptions): MemoryPlan {
  const o = {
    contextTokens: opts.contextTokens,
    weightDtype: opts.weightDtype,
    kvDtype: opts.kvDtype,
    actDtype: opts.actDtype ?? 'f32',
    maxImagePixels: opts.maxImagePixels ?? DEFAULT_MAX_IMAGE_PIXELS,
    prefillChunk: opts.prefillChunk ?? 512,
    limits: opts.limits ?? WEBGPU_DEFAULT_LIMITS,
    ...(opts.budgetBytes !== undefined ? { budgetBytes: opts.budgetBytes } : {}),
    embeddingsOnHost: opts.embeddingsOnHost ?? false,
    q4Tensors: opts.q4?.size ?? 0,
  };
  const q4 = opts.q4 ?? new Map<string, number>();
  if (!Number.isSafeInteger(o.contextTokens) || o.contextTokens < 1) throw new RangeError(`contextTokens must be a positive integer`);
  const wb = WEIGHT_BYTES[o.weightDtype];
  const groups = new Map<string, WeightGroup>();
  const splits: SplitTensor[] = [];
  const problems: string[] = [];
  const expected = resolveManifest(config);
  // A tied lm_head is the embedding table: then the LLM's table stays on the GPU.
  const tied = !expected.some((t) => t.role === 'llm.lm_head');
  let hostBytes = 0;
  for (const t of expected) {
    const n = numel(t.shape);
    const group = q4.get(t.name);
    if (o.embeddingsOnHost && (t.role === 'te.embed' || (t.role === 'llm.embed' && !tied))) {
      hostBytes += n * wb;
      continue;
    }
    const label = `${groupLabel(t)}${group ? ' 4-bit' : ''}`;
    const g = groups.get(label) ?? { label, component: t.component, tensors: 0, params: 0, bytes: 0 };
    const bytes = group ? n / 2 + (n / group) * 4 : n * wb;
    g.tensors += 1;
    g.params += n;
    g.bytes += bytes;
    groups.set(label, g);
    // 4-bit rows: the code words bind per row slice (their group words are 1/16 as large or less).
    const { rowBytes, parts } = bindingParts(t.shape, group ? 0.5 : wb, o.limits);
    if (parts === 0) problems.push(`${t.name}: one row (${rowBytes} bytes) exceeds the binding limit`);
    if (parts !== 1) splits.push({ name: t.name, bytes, rowBytes, parts });
  }
  const weights = [...groups.values()];
  const weightBytes = weights.reduce((s, g) => s + g.bytes, 0);
  const params = weights.reduce((s, g) => s + g.params, 0);

  const { llm, vision } = config;
  const kvBytesPerToken = llm.layers * 2 * llm.kvHeads * llm.headDim * (o.kvDtype === 'f16' ? 2 : 4);
  const kvBytes = kvBytesPerToken * o.contextTokens;

  // Activation estimate (attention scores are assumed streamed, never materialised as [q, k]):
  // ViT peak = input patches + max(attention stage: x, norm(x), qkv, attn-out = 6 N D;
  //                                MLP stage: x, norm(x), gate, up = 2 N D + 2 N I),
  // plus the merged output features [N / merge^2, out_hidden] that live on into the prefill.
  const ab = o.actDtype === 'f16' ? 2 : 4;
  const patchPixels = vision.patchSize * vision.patchSize;
  const N = Math.floor(o.maxImagePixels / patchPixels);
  const patchDim = vision.inChannels * vision.temporalPatchSize * patchPixels;
  const D = vision.hidden;
  const visionBytes =
    (N * patchDim + Math.max(6 * N * D, 2 * N * D + 2 * N * vision.intermediate)) * ab +
    Math.floor(N / (vision.mergeSize * vision.mergeSize)) * vision.outHidden * ab;
  // Prefill chunk C: max(attention stage: x, norm, q, attn-out = 4 C H, + k, v = 2 C KV; MLP: 2 C H + 2 C I),
  // plus one row of logits (only the last position is projected during generation).
  const C = o.prefillChunk;
  const H = llm.hidden;
  const kvw = llm.kvHeads * llm.headDim;
  const prefillBytes = (Math.max(4 * C * H + 2 * C * kvw, 2 * C * H + 2 * C * llm.intermediate) + llm.vocab) * ab;
  // The ViT and the prefill run one after the other but are summed: a conservative bound without pool reuse.
  const scratchBytes = visionBytes + prefillBytes;

  const total = weightBytes + kvBytes + scratchBytes;
  if (o.budgetBytes !== undefined && total > o.budgetBytes) {
    problems.push(`total ${formatBytes(total)} exceeds the budget ${formatBytes(o.budgetBytes)}`);
  }
  // The engine binds the ViT's residual stream and each of q, k, v [N, D] whole (attention spans a whole image),
  // so one of them must fit a single binding; the patch embed, MLP and logits are processed in row chunks.
  const bindingLimit = Math.min(o.limits.maxBufferSize, o.limits.maxStorageBufferBindingSize);
  if (N * D * ab > bindingLimit) {
    const maxPatches = Math.floor(bindingLimit / (D * ab));
    problems.push(`ViT activation [${N}, ${D}] ${o.actDtype} (${formatBytes(N * D * ab)}) exceeds the binding limit: ` +
      `at most ${maxPatches} patches (${Math.floor(maxPatches / (vision.mergeSize * vision.mergeSize))} visual tokens) per image call` +
      `${o.actDtype === 'f32' ? ' on the f32 path (f16 activations fit twice as many)' : ''}`);
  }
  if (kvBytesPerToken * o.contextTokens / llm.layers / 2 > bindingLimit) {
    problems.push(`one layer's K (or V) cache at ${o.contextTokens} tokens exceeds the binding limit`);
  }
  return {
    options: o,
    weights,
    weightBytes,
    hostBytes,
    params,
    kvCache: { bytesPerToken: kvBytesPerToken, bytes: kvBytes },
    scratch: { visionPatches: N, visionBytes, prefillBytes, bytes: scratchBytes },
    total,
    splits,
    fits: problems.length === 0,
    problems,
  };
}


export function formatMemoryPlan(plan: MemoryPlan): string {
  const o = plan.options;
  const rows: [string, string, string, string][] = [['component', 'tensors', 'params', 'size']];
  const num = (n: number) => n.toLocaleString('en-US');
  for (const g of plan.weights) rows.push([g.label.endsWith(' 4-bit') ? g.label : `${g.label} (${o.weightDtype})`, num(g.tensors), num(g.params), formatBytes(g.bytes)]);
  rows.push(['weights total', num(plan.weights.reduce((s, g) => s + g.tensors, 0)), num(plan.params), formatBytes(plan.weightBytes)]);
  rows.push([`KV cache (${num(o.contextTokens)} tokens, ${o.kvDtype}, ${num(plan.kvCache.bytesPerToken)} B/token)`, '', '', formatBytes(plan.kvCache.bytes)]);
  rows.push([`scratch: ViT (${num(plan.scratch.visionPatches)} patches, ${o.actDtype})`, '', '', formatBytes(plan.scratch.visionBytes)]);
  rows.push([`scratch: prefill (${num(o.prefillChunk)}-token chunk, ${o.actDtype})`, '', '', formatBytes(plan.scratch.prefillBytes)]);
  rows.push(['total', '', '', formatBytes(plan.total)]);
  if (plan.hostBytes) rows.push([`embedding tables in host memory (${o.weightDtype}, not in the total)`, '', '', formatBytes(plan.hostBytes)]);
  const w = [0, 1, 2, 3].map((c) => Math.max(...rows.map((r) => r[c]!.length)));
  const lines = rows.map((r, i) => {
    const line = `${r[0].padEnd(w[0]!)}  ${r[1].padStart(w[1]!)}  ${r[2].padStart(w[2]!)}  ${r[3].padStart(w[3]!)}`;
    return i === 0 || i === plan.weights.length + 1 ? `${line}\n${'-'.repeat(line.length)}` : line;
  });
  const limit = Math.min(o.limits.maxStorageBufferBindingSize, o.limits.maxBufferSize);
  if (plan.splits.length) {
    const parts = plan.splits.reduce((s, t) => s + t.parts, 0);
    lines.push(`${plan.splits.length} tensor(s) exceed the ${formatBytes(limit)} binding limit -> ${parts} bindings, e.g.`);
    for (const s of plan.splits.slice(0, 4)) lines.push(`  ${s.name}: ${formatBytes(s.bytes)} -> ${s.parts} parts`);
  } else lines.push(`every tensor fits in one ${formatBytes(limit)} binding`);
  lines.push(plan.fits ? 'fits: yes' : `fits: NO\n${plan.problems.map((p) => `  - ${p}`).join('\n')}`);
  return lines.join('\n');
}
