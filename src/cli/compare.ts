// `vilavt compare`: one question through every system the user has a checkpoint for (ViLaVT, DeepEyes,
// Pixel-Reasoner), printed side by side per LLM call — crops, visual tokens encoded and reused, prompt tokens
// prefilled and reused, time — so the per-round cost of ViLaVT's re-encoding against a plain zoom round (the paper's
// Table 6) can be measured on the machine at hand. Checkpoints are loaded one after the other (one GPU).
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { SystemName } from '../chat/loop-driver.js';
import { parseReplayFile } from '../chat/replay-file.js';
import type { ChatEvent } from '../chat/events.js';
import { ChatSession, type ReplayTurn } from '../chat/session.js';
import { createLoopDriver, parseSystemName } from '../chat/systems.js';
import type { DecodedImage } from '../preprocess/image.js';
import { CliError, UsageError } from './fail.js';
import { intOption, parseCommand } from './args.js';
import { formatMs as ms } from '../util/format.js';
import { loadModelDir } from './load-model.js';
import { resolveSystem } from './system-option.js';

const USAGE = `usage: vilavt compare --model [SYSTEM=]DIR [--model [SYSTEM=]DIR ...] --image PATH [--image PATH ...] "question"
  --model [SYSTEM=]DIR   a checkpoint and, unless the checkpoint says, its system (vilavt | deepeyes | pixelreasoner)
  --replay SYSTEM=FILE   teacher-force that system's assistant turns (as vilavt chat --replay)
  --option TEXT          a multiple-choice option (repeatable)
  --greedy               argmax decoding for every system (default: each system's own decoding)
  --max-rounds N         LLM calls per system (default: each system's)
  --max-new-tokens N     tokens per call (default: each system's)
  --context N            KV cache capacity (default 32768)
  --json                 one JSON object per system instead of the table
  --f16                  f16 activations (needs shader-f16)`;

interface Round {
  call: number;
  crops: number;
  visionEncoded: number;
  visionReused: number;
  prefill: number;
  reused: number;
  generated: number;
  ms: number;
}

interface SystemRun {
  system: SystemName;
  model: string;
  rounds: Round[];
  answer: string;
  stop: string;
}

function splitPrefixed(v: string, what: string): [string | undefined, string] {
  const m = /^(vilavt|deepeyes|pixelreasoner)=(.+)$/.exec(v);
  if (m) return [m[1]!, m[2]!];
  if (what === 'replay') throw new UsageError(`--replay takes SYSTEM=FILE, got ${JSON.stringify(v)}`);
  return [undefined, v];
}

export async function compareMain(argv: string[]): Promise<number> {
  const parsed = parseCommand({
    args: argv, allowPositionals: true,
    options: {
      model: { type: 'string', multiple: true }, image: { type: 'string', multiple: true }, replay: { type: 'string', multiple: true },
      option: { type: 'string', multiple: true }, greedy: { type: 'boolean' }, 'max-rounds': { type: 'string' },
      'max-new-tokens': { type: 'string' }, context: { type: 'string' }, json: { type: 'boolean' }, f16: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  }, USAGE);
  if (!parsed) return 0;
  const v = parsed.values;
  if (!v.model?.length) throw new UsageError(`at least one --model is required\n${USAGE}`);
  if (!v.image?.length) throw new UsageError(`at least one --image is required\n${USAGE}`);
  if (parsed.positionals.length !== 1) throw new UsageError(`give the question as one argument (quote it)\n${USAGE}`);
  const question = parsed.positionals[0]!;
  const maxRounds = intOption('max-rounds', v['max-rounds'], undefined, 1);
  const maxNewTokens = intOption('max-new-tokens', v['max-new-tokens'], undefined, 1);
  const context = intOption('context', v.context, 32768, 1);
  const replays = new Map<SystemName, ReplayTurn[]>();
  for (const r of v.replay ?? []) {
    const [sys, file] = splitPrefixed(r, 'replay');
    const text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
      throw new CliError(`cannot read replay file ${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
    });
    replays.set(parseSystemName(sys!), parseReplayFile(text, file).turns);
  }

  const { decodeImageFile } = await import('../platform/node-image.js');
  const images: { image: DecodedImage; name: string }[] = [];
  for (const p of v.image) images.push({ image: await decodeImageFile(p), name: p });
  const options = v.option ?? null;

  // Every checkpoint and its system first, so a bad argument fails before any weights are loaded.
  const plan: { system: SystemName; dir: string }[] = [];
  for (const m of v.model) {
    const [flag, dir] = splitPrefixed(m, 'model');
    const system = await resolveSystem(dir, flag);
    if (plan.some((p) => p.system === system)) throw new UsageError(`two checkpoints for ${system}: compare runs each system once`);
    createLoopDriver(system, { images, question, options, maxRounds: maxRounds });
    plan.push({ system, dir });
  }

  const runs: SystemRun[] = [];
  for (const { system, dir } of plan) {
    const { gpu, model, text } = await loadModelDir(dir, { f16: v.f16 ?? false, contextTokens: context });
    const session = new ChatSession({ gpu, model, tokenizer: text.tokenizer, inquiryTokenizer: text.inquiry, chatTemplate: text.chatTemplate, contextLength: context, system });
    const run: SystemRun = { system, model: dir, rounds: [], answer: '', stop: '' };
    try {
      const events: AsyncIterable<ChatEvent> = session.ask({
        images, question, options, maxRounds, maxNewTokens, replay: replays.get(system),
        sampling: v.greedy ? { greedy: true } : {},
      });
      for await (const e of events) {
        if (e.type === 'turn') {
          const t = e.timings;
          run.rounds.push({
            call: e.call, crops: 0, visionEncoded: e.vision_tokens_encoded, visionReused: e.vision_tokens_total - e.vision_tokens_encoded,
            prefill: e.prefill_tokens, reused: e.reused_tokens, generated: e.generated_tokens, ms: t.vision + t.text + t.prefill + t.decode,
          });
        }
        // A call's region events follow its turn event: they are that round's tool result.
        if (e.type === 'region' && e.image_index !== null && run.rounds.length) run.rounds[run.rounds.length - 1]!.crops++;
        if (e.type === 'done') {
          run.answer = e.answer;
          run.stop = e.stop_reason;
        }
      }
    } finally {
      session.close();
      model.destroy();
    }
    runs.push(run);
  }

  if (v.json) {
    for (const r of runs) console.log(JSON.stringify(r));
    return 0;
  }
  console.log(formatComparison(runs));
  return 0;
}

/** The side-by-side table: one column per system, one row per LLM call, then totals. */
export function formatComparison(runs: readonly SystemRun[]): string {
  const W = 40;
  const pad = (s: string) => (s.length > W ? s.slice(0, W - 1) + '…' : s.padEnd(W));
  const row = (label: string, cells: string[]) => label.padEnd(10) + cells.map(pad).join(' | ');
  const lines = [row('', runs.map((r) => `${r.system} (${basename(r.model)})`)), '-'.repeat(10 + runs.length * (W + 3))];
  const n = Math.max(...runs.map((r) => r.rounds.length));
  for (let i = 0; i < n; i++) {
    const cells = runs.map((r) => {
      const x = r.rounds[i];
      return x ? `${ms(x.ms)}, vis ${x.visionEncoded} new/${x.visionReused} reused` : '';
    });
    const detail = runs.map((r) => {
      const x = r.rounds[i];
      return x ? `  prefill ${x.prefill}/${x.prefill + x.reused}, ${x.generated} out, ${x.crops} crop${x.crops === 1 ? '' : 's'}` : '';
    });
    lines.push(row(`call ${i + 1}`, cells), row('', detail));
  }
  const sum = (r: SystemRun, f: (x: Round) => number) => r.rounds.reduce((s, x) => s + f(x), 0);
  lines.push('-'.repeat(10 + runs.length * (W + 3)));
  lines.push(row('rounds', runs.map((r) => `${r.rounds.length} (stop: ${r.stop})`)));
  lines.push(row('crops', runs.map((r) => String(sum(r, (x) => x.crops)))));
  lines.push(row('vision', runs.map((r) => `${sum(r, (x) => x.visionEncoded)} encoded, ${sum(r, (x) => x.visionReused)} reused`)));
  lines.push(row('per round', runs.map((r) => (r.rounds.length ? ms(sum(r, (x) => x.ms) / r.rounds.length) : '-'))));
  const zoom = (r: SystemRun) => r.rounds.slice(1);
  lines.push(row('zoom rnd', runs.map((r) => (zoom(r).length ? `${ms(zoom(r).reduce((s, x) => s + x.ms, 0) / zoom(r).length)} (calls 2..)` : '-'))));
  lines.push(row('answer', runs.map((r) => JSON.stringify(r.answer))));
  return lines.join('\n');
}
