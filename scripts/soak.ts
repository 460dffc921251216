// Soak (issue 11): many consecutive asks in one ChatSession and many sessions opened and closed on one loaded model,
// on the demo checkpoint. Every ask is the demo's trajectory — two replayed zoom calls (crop, inquiry text encoder,
// ViT re-encoding, prefill) and a greedy sampled last call (decode) — on the demo picture with one pixel changed per
// ask, so nothing is served from the KV cache and every ask does the same work with the same shapes. After each ask
// and each session it records the GPU memory the engine holds (gpu.memoryStats(): live buffers and bytes, the pool's
// in-use and cached bytes) and the ask's wall time. `npm test` runs a short version (test/chat/soak.test.ts):
//
//   npm run soak -- [--asks 100] [--sessions 100] [--demo .demo]     prints the report (JSON with --json)
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { ChatSession, type AskOptions } from '../src/chat/session.js';
import type { VilavtModel } from '../src/model/vilavt-model.js';
import type { DecodedImage } from '../src/preprocess/image.js';
import type { Gpu } from '../src/runtime/device.js';
import type { TextAssets } from '../src/text/tokenizer-files.js';

export type MemoryStats = ReturnType<Gpu['memoryStats']>;

export interface SoakInputs {
  gpu: Gpu;
  model: VilavtModel;
  text: TextAssets;
  image: DecodedImage;
  replay: { question: string; assistant_turns: readonly string[] };
  /** KV cache of each session (default 4096). */
  contextLength?: number;
}

export interface SoakPhase {
  /** Wall time of each ask (ms). */
  ms: number[];
  /**
   * CPU time of the process during each ask (ms, user + system): on a software adapter (lavapipe runs its threads
   * in this process) it is the ask's work, and other processes competing for the cores change it far less than
   * the wall time.
   */
  cpuMs: number[];
  /** memoryStats() after each ask (asks) or after each session was closed (sessions). */
  memory: MemoryStats[];
  /** Vision tokens encoded by each ask (the same number every time: no ask is served from the cache). */
  visionTokens: number[];
  /** JS heap in use after each ask (bytes; after a full collection with --expose-gc, else informational). */
  heapBytes: number[];
}

export interface SoakReport {
  before: MemoryStats;
  asks: SoakPhase;
  sessions: SoakPhase;
  wallMs: number;
}

/** The demo picture with pixel `i` changed: same size, different features (no prefix reuse between asks). */
function variant(image: DecodedImage, i: number): DecodedImage {
  const data = image.data.slice();
  const at = (i * 3 * 97) % data.length;
  data[at] = data[at]! ^ 0x5a;
  return { ...image, data };
}

function askOptions(o: SoakInputs, i: number): AskOptions {
  return {
    images: [{ image: variant(o.image, i), name: 'sample.png' }], question: o.replay.question,
    replay: o.replay.assistant_turns.slice(0, 2), maxRounds: 3, maxNewTokens: 4, sampling: { greedy: true },
  };
}

async function timedAsk(session: ChatSession, opts: AskOptions, phase: SoakPhase): Promise<void> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let done = false;
  let vision = 0;
  for await (const e of session.ask(opts)) {
    if (e.type === 'done') done = true;
    if (e.type === 'turn') vision += e.vision_tokens_encoded;
  }
  if (!done) throw new Error('soak: an ask ended without its done event');
  phase.ms.push(performance.now() - t0);
  const c = process.cpuUsage(c0);
  phase.cpuMs.push((c.user + c.system) / 1000);
  phase.visionTokens.push(vision);
}

/** JS heap in use, after a full collection when node runs with --expose-gc (`npm run soak` does). */
function heapUsed(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
}

const newPhase = (): SoakPhase => ({ ms: [], cpuMs: [], memory: [], visionTokens: [], heapBytes: [] });

/** `asks` asks in one session, then `sessions` sessions of one ask each, opened and closed on the same model. */
export async function runSoak(o: SoakInputs, counts: { asks: number; sessions: number }, progress?: (line: string) => void): Promise<SoakReport> {
  const t0 = performance.now();
  const newSession = () => new ChatSession({ gpu: o.gpu, model: o.model, tokenizer: o.text.tokenizer, inquiryTokenizer: o.text.inquiry, contextLength: o.contextLength ?? 4096 });
  const before = o.gpu.memoryStats();
  const asks = newPhase();
  const one = newSession();
  try {
    for (let i = 0; i < counts.asks; i++) {
      await timedAsk(one, askOptions(o, i), asks);
      asks.memory.push(o.gpu.memoryStats());
      asks.heapBytes.push(heapUsed());
      if ((i + 1) % 10 === 0) progress?.(`ask ${i + 1}/${counts.asks}: ${asks.ms[i]!.toFixed(0)} ms, ${describeMemory(asks.memory[i]!)}`);
    }
  } finally {
    one.close();
  }
  const sessions = newPhase();
  for (let i = 0; i < counts.sessions; i++) {
    const s = newSession();
    try {
      await timedAsk(s, askOptions(o, counts.asks + i), sessions);
    } finally {
      s.close();
    }
    sessions.memory.push(o.gpu.memoryStats());
    sessions.heapBytes.push(heapUsed());
    if ((i + 1) % 10 === 0) progress?.(`session ${i + 1}/${counts.sessions}: ${sessions.ms[i]!.toFixed(0)} ms, ${describeMemory(sessions.memory[i]!)}`);
  }
  return { before, asks, sessions, wallMs: performance.now() - t0 };
}

export function describeMemory(m: MemoryStats): string {
  return `${m.buffers} buffers, ${m.bufferBytes} bytes (pool ${m.poolInUseBytes} in use + ${m.poolCachedBytes} cached)`;
}

const median = (v: readonly number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  return s.length ? (s[(s.length - 1) >> 1]! + s[s.length >> 1]!) / 2 : NaN;
};

/** Median ask time of the first and last `k` asks and their ratio. */
export function timeGrowth(ms: readonly number[], k: number): { first: number; last: number; ratio: number } {
  const first = median(ms.slice(0, k));
  const last = median(ms.slice(-k));
  return { first, last, ratio: last / first };
}

/** Entries after `warm` whose memory differs from entry `warm` (empty when flat). */
export function memoryDrift(memory: readonly MemoryStats[], warm: number): { index: number; memory: MemoryStats }[] {
  const ref = memory[warm];
  if (!ref) return [];
  const key = (m: MemoryStats) => `${m.buffers}/${m.bufferBytes}/${m.poolInUseBytes}/${m.poolCachedBytes}`;
  return memory.map((m, index) => ({ index, memory: m })).filter((e) => e.index > warm && key(e.memory) !== key(ref));
}

/** The report in words: memory at start and end of each phase, drift after warm-up, time growth. */
export function formatSoak(r: SoakReport, warm = 1): string {
  const lines = [`soak: ${r.asks.ms.length} asks in one session, ${r.sessions.ms.length} sessions of one ask; wall ${(r.wallMs / 1000).toFixed(1)} s`];
  lines.push(`  before:            ${describeMemory(r.before)}`);
  for (const [name, p] of [['asks', r.asks], ['sessions', r.sessions]] as const) {
    if (!p.ms.length) continue;
    const k = Math.max(1, Math.min(10, Math.floor(p.ms.length / 4)));
    const g = timeGrowth(p.ms, k);
    const c = timeGrowth(p.cpuMs, k);
    const drift = memoryDrift(p.memory, warm);
    lines.push(`  ${name}: after #${warm + 1}: ${describeMemory(p.memory[Math.min(warm, p.memory.length - 1)]!)}`);
    lines.push(`  ${name}: after #${p.memory.length}: ${describeMemory(p.memory.at(-1)!)}`);
    lines.push(`  ${name}: memory ${drift.length ? `DRIFTS at ${drift.length} of ${p.memory.length - warm - 1} points (first: #${drift[0]!.index + 1})` : `flat after #${warm + 1}`}`);
    lines.push(`  ${name}: JS heap after #1 ${(p.heapBytes[0]! / 2 ** 20).toFixed(1)} MiB, after #${p.heapBytes.length} ${(p.heapBytes.at(-1)! / 2 ** 20).toFixed(1)} MiB`);
    lines.push(`  ${name}: median ms first ${k} ${g.first.toFixed(0)}, last ${k} ${g.last.toFixed(0)} (ratio ${g.ratio.toFixed(2)}); ` +
      `first ${k}: ${p.ms.slice(0, k).map((x) => x.toFixed(0)).join(' ')}; last ${k}: ${p.ms.slice(-k).map((x) => x.toFixed(0)).join(' ')}`);
    lines.push(`  ${name}: median CPU ms first ${k} ${c.first.toFixed(0)}, last ${k} ${c.last.toFixed(0)} (ratio ${c.ratio.toFixed(2)}); ` +
      `first ${k}: ${p.cpuMs.slice(0, k).map((x) => x.toFixed(0)).join(' ')}; last ${k}: ${p.cpuMs.slice(-k).map((x) => x.toFixed(0)).join(' ')}`);
  }
  return lines.join('\n');
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { asks: { type: 'string', default: '100' }, sessions: { type: 'string', default: '100' }, demo: { type: 'string', default: '.demo' }, json: { type: 'boolean', default: false } },
  });
  const count = (name: string, v: string) => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got ${v}`);
    return n;
  };
  const counts = { asks: count('asks', values.asks!), sessions: count('sessions', values.sessions!) };
  const { makeDemo } = await import('./make-demo.js');
  const { createNodeGpu } = await import('../src/platform/node.js');
  const { loadTokenizerDir } = await import('../src/platform/node-tokenizer.js');
  const { decodeImageFile } = await import('../src/platform/node-image.js');
  const { openCheckpointDir } = await import('../src/platform/node-file.js');
  const { VilavtModel } = await import('../src/model/vilavt-model.js');
  const dir = resolve(values.demo!);
  await makeDemo(dir); // does nothing when the demo assets are up to date
  const gpu = await createNodeGpu();
  const model = await VilavtModel.load(gpu, await openCheckpointDir(join(dir, 'checkpoint')), { activations: 'f32' });
  const inputs: SoakInputs = {
    gpu, model, text: await loadTokenizerDir(join(dir, 'checkpoint')), image: await decodeImageFile(join(dir, 'sample.png')),
    replay: JSON.parse(await readFile(join(dir, 'replay.json'), 'utf8')),
  };
  console.error(`soak on ${gpu.describe()}`);
  const report = await runSoak(inputs, counts, (line) => console.error(line));
  console.log(values.json ? JSON.stringify(report) : formatSoak(report));
  model.destroy();
  gpu.destroy();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  });
}
