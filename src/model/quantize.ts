// Round-to-nearest 4-bit quantization with AutoAWQ's zero-point rule, and the choice of which weights a
// quantized ViLaVT stores 4-bit (docs/QUANTIZATION.md measures what each choice costs). Platform-neutral; the
// streaming file writer is src/cli/quantize.ts.
import { f16BitsToNumber, numberToF16Bits } from '../runtime/dtype.js';
import type { Q4Parts } from '../ops/matmul-q4.js';
import { quantizable, resolveManifest, type ExpectedTensor } from './manifest.js';
import { parseAwqConfig } from './awq.js';
import type { ModelConfig } from './config.js';

/** Round half to even (torch.round, numpy.round). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Per group of `group` consecutive inputs of each output row: s = max(max − min, 1e-5) / 15 rounded to f16 (the
 * stored scale, which then also quantizes), z = clamp(−round(min / s), 0, 15), q = clamp(round(w / s) + z, 0, 15).
 * `w` is row-major [n, k] (PyTorch [out, in]); `rows` limits the work to rows r0 .. r0 + rows (streaming).
 */
export function quantizeRtn(w: Float32Array, n: number, k: number, group: number): Q4Parts {
  if (k % group !== 0) throw new RangeError(`quantizeRtn: group ${group} does not divide ${k}`);
  const g = k / group;
  const codes = new Uint8Array(n * k);
  const zeros = new Uint8Array(n * g);
  const scales = new Uint16Array(n * g);
  for (let r = 0; r < n; r++) {
    for (let gi = 0; gi < g; gi++) {
      const base = r * k + gi * group;
      let lo = Infinity;
      let hi = -Infinity;
      for (let i = 0; i < group; i++) {
        const v = w[base + i]!;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      const bits = numberToF16Bits(Math.max(hi - lo, 1e-5) / 15);
      const s = f16BitsToNumber(bits);
      if (!Number.isFinite(s)) throw new RangeError(`quantizeRtn: row ${r} group ${gi} spans ${hi - lo}, beyond f16 scales`);
      const z = Math.min(15, Math.max(0, -roundHalfEven(lo / s)));
      scales[r * g + gi] = bits;
      zeros[r * g + gi] = z;
      for (let i = 0; i < group; i++) codes[base + i] = Math.min(15, Math.max(0, roundHalfEven(w[base + i]! / s) + z));
    }
  }
  return { n, k, group, codes, zeros, scales };
}

/** What `vilavt quantize` writes 4-bit by default (docs/QUANTIZATION.md). */
export interface QuantPolicy {
  group: number;
  /** Module-name prefixes kept in floating point on top of the linears that cannot be 4-bit at this group size. */
  keep: readonly string[];
}

export const DEFAULT_GROUP = 128;

/**
 * The weights to store 4-bit: every linear layer (LLM decoder, lm_head, text encoder, text_proj, ViT attention
 * and merger), except those whose module name starts with an entry of `keep`, and those the format cannot hold at
 * this group size (input width not a multiple of the group, output width not a multiple of 8: the ViT MLP of
 * ViLaVT-7B, intermediate 3420). Embeddings and the patch embedding are never linear layers here.
 */
export function planQuantization(expected: readonly ExpectedTensor[], policy: QuantPolicy): { quantize: ExpectedTensor[]; keptLinears: string[] } {
  const quantize: ExpectedTensor[] = [];
  const keptLinears: string[] = [];
  for (const e of expected) {
    if (!quantizable(e)) continue;
    const module = e.name.slice(0, -'.weight'.length);
    const [out, inDim] = e.shape as [number, number];
    if (policy.keep.some((p) => module === p || module.startsWith(`${p}.`)) || inDim % policy.group !== 0 || out % 8 !== 0) keptLinears.push(module);
    else quantize.push(e);
  }
  return { quantize, keptLinears };
}

/**
 * For a config with an AWQ quantization_config but no weights at hand (planning before a download): the linears
 * an AWQ writer stores 4-bit, i.e. every one the format can hold except those `modules_to_not_convert` names
 * (substring match, as AWQ loaders do). Weight name -> group; null when the config is not 4-bit.
 */
export function q4FromConfig(config: ModelConfig): Map<string, number> | null {
  if (config.quantization === undefined) return null;
  const awq = parseAwqConfig(config.quantization);
  if (!('config' in awq)) return null;
  const { group, modulesToNotConvert } = awq.config;
  const { quantize } = planQuantization(resolveManifest(config), { group, keep: [] });
  return new Map(quantize.filter((e) => !modulesToNotConvert.some((m) => e.name.includes(m))).map((e) => [e.name, group]));
}
