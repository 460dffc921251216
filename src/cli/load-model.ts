// Loading a checkpoint folder for the commands that run the model (chat, serve): tokenizers, weights on the GPU,
// a progress bar on a terminal and one line when done.
import { formatMs } from '../util/format.js';
import type { VilavtModel } from '../model/vilavt-model.js';
import type { Gpu } from '../runtime/device.js';
import type { TextAssets } from '../text/tokenizer-files.js';
import { CliError } from './fail.js';

export interface LoadedModel {
  gpu: Gpu;
  model: VilavtModel;
  text: TextAssets;
  /** Wall time of the load. */
  loadMs: number;
}

function progressBar(done: number, total: number): string {
  const w = 30;
  const f = total > 0 ? done / total : 1;
  const n = Math.round(f * w);
  return `loading weights [${'#'.repeat(n)}${'-'.repeat(w - n)}] ${Math.round(f * 100)}%`;
}


/**
 * `contextTokens` (the KV cache the command will allocate) is checked against the model and the adapter before the
 * weights load, so a bad --context fails in seconds with one line.
 */
export async function loadModelDir(dir: string, o: { f16: boolean; contextTokens?: number; profile?: boolean }): Promise<LoadedModel> {
  const { loadTokenizerDir } = await import('../platform/node-tokenizer.js');
  const text = await loadTokenizerDir(dir);
  const { openCheckpointDir } = await import('../platform/node-file.js');
  const ckpt = await openCheckpointDir(dir);
  const { contextLengthProblem } = await import('../model/kv-cache.js');
  const contextProblem = (maxBindingBytes?: number) =>
    o.contextTokens === undefined ? null : contextLengthProblem(ckpt.config.llm, o.contextTokens, o.f16 ? 'f16' : 'f32', maxBindingBytes);
  if (contextProblem()) throw new CliError(`--context: ${contextProblem()}`);
  const { createNodeGpu } = await import('../platform/node.js');
  const { VilavtModel } = await import('../model/vilavt-model.js');
  const gpu = await createNodeGpu({ profile: o.profile });
  if (contextProblem(gpu.maxBindingBytes)) throw new CliError(`--context: ${contextProblem(gpu.maxBindingBytes)}`);

  const log = (s: string) => process.stderr.write(s);
  const tty = process.stderr.isTTY === true;
  const t0 = performance.now();
  let last = -1;
  const model = await VilavtModel.load(gpu, ckpt, {
    activations: o.f16 ? 'f16' : 'f32',
    onProgress: (done, total) => {
      const pct = Math.floor((100 * done) / Math.max(total, 1));
      if (tty && pct !== last) log(`\r${progressBar(done, total)}`);
      last = pct;
    },
  });
  if (tty) log('\r\x1b[2K');
  const loadMs = Math.round(performance.now() - t0);
  log(`model ${dir} loaded in ${formatMs(loadMs)} (${o.f16 ? 'f16' : 'f32'} activations, ${gpu.adapter.description || gpu.adapter.vendor})\n`);
  return { gpu, model, text, loadMs };
}
