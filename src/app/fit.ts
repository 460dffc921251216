// Whether a model fits an adapter, said in words before anything large is downloaded: the memory plan of the
// config (weights, KV cache of the app's context, scratch) against the adapter's buffer limits. WebGPU does not
// report an adapter's memory size, so the total is stated, not checked; the plan's problems (a tensor row or the
// ViT activation beyond a binding) are hard failures.
import type { ModelConfig } from '../model/config.js';
import { planMemory, type DeviceLimits, type WeightDtype } from '../model/memory-plan.js';
import { q4FromConfig } from '../model/quantize.js';
import { formatBytes } from '../util/format.js';

export interface FitReport {
  fits: boolean;
  /** One paragraph for the page. */
  words: string;
  totalBytes: number;
}

export function fitReport(config: ModelConfig, o: { limits: DeviceLimits; activations: 'f32' | 'f16'; contextTokens: number; weightDtype?: WeightDtype; adapter: string }): FitReport {
  const q4 = q4FromConfig(config); // a 4-bit checkpoint: its linears 4-bit, its embedding tables in host memory
  const plan = planMemory(config, {
    contextTokens: o.contextTokens, weightDtype: o.weightDtype ?? 'bf16', kvDtype: o.activations, actDtype: o.activations, limits: o.limits,
    ...(q4 ? { q4, embeddingsOnHost: true } : {}),
  });
  const need = `about ${formatBytes(plan.total)} of GPU memory (weights ${formatBytes(plan.weightBytes)}, KV cache for ` +
    `${o.contextTokens} tokens ${formatBytes(plan.kvCache.bytes)}, scratch ${formatBytes(plan.scratch.bytes)})`;
  if (plan.fits) return { fits: true, totalBytes: plan.total, words: `This model needs ${need}.` };
  const quant = plan.weightBytes > 4 * 2 ** 30 ? ' A 4-bit (AWQ) checkpoint needs about a quarter of the weight memory and is what most browsers can hold.' : '';
  return {
    fits: false,
    totalBytes: plan.total,
    words: `This model does not fit this adapter (${o.adapter}) with ${o.activations} activations: ${plan.problems.join('; ')}. It would need ${need}.${quant}`,
  };
}
