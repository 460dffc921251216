// The decode-step benchmark: a 7B-shaped language model (Qwen2.5-VL-7B's LLM: 28 layers, hidden 3584, 28/4
// heads of 128, MLP 18944, vocabulary 152064; test/fixtures/vilavt-7b/config.json) with random 4-bit weights,
// generated in memory (no checkpoint file), one whole decode step (embed, 28 layers, final norm, lm_head,
// sampling, token readback: exactly `LanguageModel.decodeStep`) timed at fixed context lengths. The KV cache is
// allocated once at the largest context; each timed step attends `context` keys (the cache is rolled back after
// every step, so the context stays fixed).
//
// Roofline per step (bench/roofline.ts): bytes = every weight byte the step reads once (4-bit codes, group words,
// biases, norm weights, lm_head, one embedding row) + the K and V rows attended; flops = 2 per multiply-add of
// the matrix-vector products and of attention (q·k and p·v). Each timed step is paired with a re-measurement of
// the ceilings, as the kernel cases are.
//
// Memory: the embedding table is cut to EMBED_ROWS rows and the step's input token set inside that range before
// each step (the step gathers one row, so the table's size does not change its cost); the 4-bit weights are
// ~3.8 GB and the f32 KV cache at 4096 tokens 0.47 GB.
import type { Gpu } from '../src/runtime/device.js';
import type { LlmConfig } from '../src/model/config.js';
import { randomQ4Llm } from './random-llm.js';
import type { Ceilings } from './ceilings.js';
import { fractionOfRoofline } from './roofline.js';
import { median } from './timing.js';

export interface DecodeResult {
  model: string;
  context: number;
  ms_per_token: number;
  bytes_per_token: number;
  flops_per_token: number;
  fraction_of_roofline: number;
  dispatches_per_token: number;
  submits_per_token: number;
  /** Ceilings re-measured next to the steps (medians). */
  stream_gbps_paired: number;
  fma_gflops_paired: number;
  note: string;
}

/** Qwen2.5-VL-7B's language model (test/fixtures/vilavt-7b/config.json). */
export const LLM_7B: LlmConfig = {
  hidden: 3584, intermediate: 18944, layers: 28, heads: 28, kvHeads: 4, headDim: 128, vocab: 152064,
  ropeTheta: 1e6, mropeSection: [16, 24, 24], rmsEps: 1e-6, tieEmbeddings: false, maxPositionEmbeddings: 128000,
  eosTokenIds: [151645], imageTokenId: 151655, visionStartTokenId: 151652, visionEndTokenId: 151653,
};

const GROUP = 128;
const EMBED_ROWS = 1024;

/** Multiply-adds of the step's matrix-vector products (weights as [n, k]). */
function matvecFlops(cfg: LlmConfig): number {
  const D = cfg.hidden, I = cfg.intermediate, hd = cfg.headDim;
  const perLayer = (cfg.heads + 2 * cfg.kvHeads) * hd * D + cfg.heads * hd * D + 2 * I * D + D * I;
  return 2 * (cfg.layers * perLayer + cfg.vocab * D);
}

export interface DecodeBenchOptions { contexts: number[]; steps: number; act: 'f32' | 'f16'; onLine?: (s: string) => void }

/** Build the model once, time `steps` decode steps at each context (after one warm-up step), dispose. */
export async function benchDecode(gpu: Gpu, ceilings: Ceilings, o: DecodeBenchOptions): Promise<DecodeResult[]> {
  const cfg = LLM_7B;
  const t0 = performance.now();
  const m = randomQ4Llm(gpu, cfg, o.act, { group: GROUP, embedRows: EMBED_ROWS });
  await gpu.flushErrors();
  const buildS = (performance.now() - t0) / 1000;
  const capacity = Math.max(...o.contexts);
  const cache = m.llm.newCache(capacity);
  const state = m.llm.decodeState();
  const out: DecodeResult[] = [];
  // Count dispatches (recorded before the step's one submit) and queue submits per step.
  let dispatches = 0, submits = 0;
  const recSubmit = state.rec.submit.bind(state.rec);
  state.rec.submit = () => { dispatches += state.rec.dispatches; recSubmit(); };
  const queue = gpu.device.queue;
  const qSubmit = queue.submit.bind(queue);
  queue.submit = (cbs: Iterable<GPUCommandBuffer>) => { submits++; qSubmit(cbs); };
  try {
    for (const ctx of o.contexts) {
      const kvBytes = 2 * cfg.layers * ctx * cfg.kvHeads * cfg.headDim * (o.act === 'f16' ? 2 : 4);
      const bytes = m.weightBytes + kvBytes;
      const flops = matvecFlops(cfg) + cfg.layers * 4 * cfg.heads * cfg.headDim * ctx;
      const step = async (i: number) => {
        cache.truncate(0);
        cache.commit(ctx - 1); // the step attends ctx keys: ctx - 1 cached + its own
        state.setToken(i % EMBED_ROWS);
        await m.llm.decodeStep(cache, state, ctx - 1, { kind: 'greedy' });
      };
      await step(0); // warm-up: pipelines, bind groups
      const ms: number[] = [], fr: number[] = [], streams: number[] = [], fmas: number[] = [];
      dispatches = 0;
      let stepSubmits = 0;
      for (let i = 1; i <= o.steps; i++) {
        const s0 = performance.now();
        const before = submits;
        await step(i);
        const t = performance.now() - s0;
        stepSubmits += submits - before;
        const ceil = await ceilings.probe();
        ms.push(t);
        streams.push(ceil.streamGbps);
        fmas.push(ceil.fmaGflops);
        fr.push(fractionOfRoofline(t, bytes, flops, ceil.streamGbps, ceil.fmaGflops));
      }
      const sorted = (v: number[]) => [...v].sort((a, b) => a - b);
      const r: DecodeResult = {
        model: '7B q4', context: ctx, ms_per_token: median(sorted(ms)), bytes_per_token: bytes, flops_per_token: flops,
        fraction_of_roofline: median(sorted(fr)), dispatches_per_token: dispatches / o.steps,
        submits_per_token: stepSubmits / o.steps,
        stream_gbps_paired: median(sorted(streams)), fma_gflops_paired: median(sorted(fmas)),
        note: `random 4-bit weights (group ${GROUP}), ${o.act} activations and KV cache, capacity ${capacity}; ` +
          `embedding table cut to ${EMBED_ROWS} rows (one row gathered per step); median of ${o.steps} steps, ` +
          `each paired with a ceiling re-measurement; model built in ${buildS.toFixed(1)} s`,
      };
      out.push(r);
      o.onLine?.(`decode 7B q4 @ ${String(ctx).padEnd(5)} ${r.ms_per_token.toFixed(1).padStart(9)} ms/token  ` +
        `${(bytes / 1e9).toFixed(2)} GB  ${(flops / 1e9).toFixed(1)} GFLOP  roofline ${r.fraction_of_roofline.toFixed(2)}  ` +
        `${r.dispatches_per_token} dispatches, ${r.submits_per_token} submit(s) per token`);
    }
  } finally {
    queue.submit = qSubmit;
    state.rec.submit = recSubmit;
    state.release();
    cache.destroy();
    m.dispose();
  }
  return out;
}
