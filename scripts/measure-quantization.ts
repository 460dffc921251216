// What 4-bit storage costs, per choice of what is quantized (docs/QUANTIZATION.md):
//  1. tiny-a (test/fixtures/golden/tiny-a): the checkpoint quantized by `vilavt quantize` with several --keep lists,
//     run through the engine against the float64 oracle's unquantized outputs (relative error max|Δ| / max|ref|);
//  2. ViLaVT-7B shapes with random weights (N(0, 0.02), as initialised; x ~ N(0, 1)): relative output error
//     ||W_q x − W x|| / ||W x|| of one layer of each kind, group 128, in float64.
// Usage: npx tsx scripts/measure-quantization.ts [--skip-7b]
import { mkdtempSync, readdirSync, rmSync, symlinkSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quantizeMain } from '../src/cli/quantize.js';
import { runModelGolden } from '../src/golden/model.js';
import { createNodeGpu } from '../src/platform/node.js';
import { quantizeRtn } from '../src/model/quantize.js';
import { refDequantQ4 } from '../src/reference/matmul-q4.js';
import { mulberry32, normalArray } from '../src/util/random.js';

const root = join(import.meta.dirname, '..');
const GOLDEN = join(root, 'test/fixtures/golden/tiny-a');
const OUTPUTS = ['a_vision.features', 'c_text_encoder.inquiry_embeds', 'b_reencode.features', 'd_prefill.logits', 'e_second_turn.logits_full', 'f_greedy.step_logits'];

async function tiny(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'vilavt-qmeasure-'));
  const gpu = await createNodeGpu();
  const variants: [string, string][] = [
    ['LLM decoder linears', 'visual,text_encoder,text_proj,lm_head'],
    ['+ lm_head', 'visual,text_encoder,text_proj'],
    ['+ text encoder, text_proj', 'visual'],
    ['+ ViT (all linears: the default)', ''],
    ['ViT only', 'model,lm_head,text_encoder,text_proj'],
  ];
  console.log(`| quantized (group 32) | ${OUTPUTS.join(' | ')} |`);
  console.log(`|---|${OUTPUTS.map(() => '---').join('|')}|`);
  try {
    for (const [label, keep] of variants) {
      const dir = join(tmp, label.replace(/\W+/g, '_'));
      mkdirSync(dir);
      for (const f of readdirSync(GOLDEN)) if (f !== 'checkpoint') symlinkSync(join(GOLDEN, f), join(dir, f));
      await quantizeMain(['--model', join(GOLDEN, 'checkpoint'), '--out', join(dir, 'checkpoint'), '--group', '32', '--keep', keep], () => {});
      const r = await runModelGolden(dir, gpu, 'f32');
      const errs = OUTPUTS.map((o) => /rel ([0-9.e+-]+)/.exec(r.lines.find((l) => l.includes(` ${o}:`) || l.includes(` ${o}[0]:`)) ?? '')?.[1] ?? '?');
      console.log(`| ${label} | ${errs.join(' | ')} |`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function layerError(n: number, k: number, group: number, seed: number): number {
  const next = mulberry32(seed);
  const w = Float32Array.from(normalArray(n * k, next), (v) => v * 0.02);
  const deq = refDequantQ4(quantizeRtn(w, n, k, group));
  let num = 0;
  let den = 0;
  for (let t = 0; t < 4; t++) {
    const x = normalArray(k, next);
    for (let r = 0; r < n; r++) {
      let a = 0;
      let b = 0;
      for (let c = 0; c < k; c++) { a += w[r * k + c]! * x[c]!; b += deq[r * k + c]! * x[c]!; }
      num += (b - a) ** 2;
      den += a * a;
    }
  }
  return Math.sqrt(num / den);
}

function shapes7b(): void {
  // Rows subsampled where the layer is large (the error is a per-row statistic): every row is quantized alike.
  const layers: [string, number, number][] = [
    ['LLM q_proj / o_proj [3584, 3584]', 1024, 3584],
    ['LLM k_proj / v_proj [512, 3584]', 512, 3584],
    ['LLM gate_proj / up_proj [18944, 3584]', 1024, 3584],
    ['LLM down_proj [3584, 18944]', 256, 18944],
    ['lm_head [152064, 3584]', 1024, 3584],
    ['ViT qkv [3840, 1280] / proj [1280, 1280]', 1024, 1280],
    ['ViT merger mlp.0 [5120, 5120]', 512, 5120],
    ['text encoder q_proj [2048, 1024] / mlp [3072, 1024]', 1024, 1024],
  ];
  console.log('\n| layer (random N(0, 0.02) weights, group 128) | relative output error |');
  console.log('|---|---|');
  for (const [i, [label, n, k]] of layers.entries()) console.log(`| ${label} | ${layerError(n, k, 128, 100 + i).toExponential(2)} |`);
}

await tiny();
if (!process.argv.includes('--skip-7b')) shapes7b();
process.exit(0);
