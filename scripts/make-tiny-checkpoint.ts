/**
 * Writes a tiny random checkpoint in the real HF layout (tiny-a dimensions unless overridden).
 *   npx tsx scripts/make-tiny-checkpoint.ts DIR [--shards N] [--tied] [--dtype bf16|f16|f32] [--seed N]
 *        [--no-text-encoder] [--llm-layers N] [--vision-depth N] [--vocab N]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { makeTinyCheckpoint, tinyADims, type TinyCheckpointOptions } from '../src/model/tiny-checkpoint.js';
import { runMain } from './run-main.js';

function int(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`--${name}: expected a non-negative integer, got ${v}`);
  return n;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      shards: { type: 'string' },
      tied: { type: 'boolean', default: false },
      dtype: { type: 'string', default: 'bf16' },
      seed: { type: 'string' },
      'no-text-encoder': { type: 'boolean', default: false },
      'llm-layers': { type: 'string' },
      'vision-depth': { type: 'string' },
      vocab: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help || positionals.length !== 1) {
    console.error('usage: make-tiny-checkpoint DIR [--shards N] [--tied] [--dtype bf16|f16|f32] [--seed N] [--no-text-encoder] [--llm-layers N] [--vision-depth N] [--vocab N]');
    return values.help ? 0 : 2;
  }
  const dtype = values.dtype;
  if (dtype !== 'bf16' && dtype !== 'f16' && dtype !== 'f32') throw new Error(`--dtype: expected bf16, f16 or f32, got ${dtype}`);
  const base = tinyADims();
  const opts: TinyCheckpointOptions = {
    ...base,
    llm: { ...base.llm, layers: int('llm-layers', values['llm-layers'], base.llm.layers) },
    vision: { ...base.vision, depth: int('vision-depth', values['vision-depth'], base.vision.depth) },
    tieEmbeddings: values.tied,
    shards: int('shards', values.shards, 1),
    dtype,
    seed: int('seed', values.seed, 1),
    vocab: int('vocab', values.vocab, base.vocab),
  };
  opts.vision.fullattBlocks = opts.vision.fullattBlocks.filter((b) => b < opts.vision.depth);
  if (values['no-text-encoder']) {
    delete opts.textEncoder;
    opts.vision.integrationPoint = 'none';
  }
  const dir = positionals[0]!;
  await mkdir(dir, { recursive: true });
  const { files } = makeTinyCheckpoint(opts);
  for (const f of files) await writeFile(join(dir, f.name), f.bytes);
  console.log(`wrote ${files.length} files to ${dir}: ${files.map((f) => `${f.name} (${f.bytes.byteLength} B)`).join(', ')}`);
  return 0;
}

runMain(main);
