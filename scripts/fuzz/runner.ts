// The fuzzers' shared runner: draws inputs from a fuzzer's generator with a seeded stream per input, runs the
// target, classifies each outcome (ok / an expected typed error / an unexpected exception), times every input,
// saves a minimized reproducer of each distinct unexpected exception, and reports the slowest input.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { concat } from './mutate.js';
import { inputRng, type Rng } from './rng.js';

/** Bytes (files) or text (model output, JSON documents read as text). */
export type FuzzInput = Uint8Array | string;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ErrorClass = abstract new (...args: any[]) => Error;

export interface FuzzTarget {
  /** One input drawn from `rng` (generated from a grammar or mutated from real seeds). */
  generate(rng: Rng): FuzzInput;
  /** Feeds the input to the product code; returning normally is "ok", throwing is classified. */
  run(input: FuzzInput): unknown;
}

export interface Fuzzer {
  name: string;
  /** What it feeds and to which entry point (docs/FUZZING.md lists these). */
  description: string;
  /** The product's typed errors that are the right answer to bad input here; anything else thrown is a bug. */
  expected: readonly ErrorClass[];
  /** Builds the seeds and the target (once per run). */
  create(): Promise<FuzzTarget>;
}

export interface Unexpected {
  index: number;
  error: string;
  /** Where the reproducer was written (undefined when no output folder was given). */
  file?: string;
  /** Size of the saved, minimized input. */
  size: number;
}

export interface FuzzReport {
  name: string;
  seed: number;
  inputs: number;
  ok: number;
  typedErrors: number;
  /** Typed errors by class name. */
  byClass: Record<string, number>;
  unexpected: Unexpected[];
  /** Every input whose CPU time exceeded `slowMs`. */
  slow: { index: number; ms: number; file?: string }[];
  /** The input with the most CPU time (user + system, all threads of the process: sharp decodes on libuv's pool). */
  slowest: { index: number; ms: number; size: number };
  /** The input with the longest wall time (inflated when the machine is shared). */
  slowestWall: { index: number; ms: number; size: number };
  wallMs: number;
}

export interface RunOptions {
  seed: number;
  /** Stop after this many inputs… */
  inputs?: number;
  /** …or after this many seconds, whichever comes first (at least one must be given). */
  seconds?: number;
  /** Input index to start at (replays one input with `inputs: 1`). */
  skip?: number;
  /**
   * Inputs over this many ms of CPU time fail the run (default 1000). CPU time, not wall time: on the shared 2-core
   * machine (load average 15-20 while other work runs) an allocation of 50 MB alone took a second of wall time.
   */
  slowMs?: number;
  /** Folder for reproducers (fuzz-out/); none written when absent. */
  outDir?: string;
  /** Progress line every so many inputs. */
  onProgress?: (done: number, r: FuzzReport) => void;
}

export const SLOW_MS = 1000;

function errorKey(e: unknown): string {
  if (e instanceof Error) return `${e.constructor.name}: ${e.message.slice(0, 80).replace(/\d+/g, 'N')}`;
  return `non-Error ${typeof e}: ${String(e).slice(0, 80)}`;
}

function describeError(e: unknown): string {
  if (e instanceof Error) return `${e.constructor.name}: ${e.message.slice(0, 300)}${e.stack ? '\n' + e.stack.split('\n').slice(1, 6).join('\n') : ''}`;
  return String(e);
}

function isExpected(e: unknown, expected: readonly ErrorClass[]): boolean {
  return expected.some((c) => e instanceof c);
}

async function outcome(target: FuzzTarget, input: FuzzInput): Promise<unknown> {
  try {
    await target.run(input);
    return undefined;
  } catch (e) {
    return e ?? new Error('thrown null/undefined');
  }
}

function sizeOf(x: FuzzInput): number {
  return x.length;
}

function cut(x: FuzzInput, at: number, len: number): FuzzInput {
  return typeof x === 'string' ? x.slice(0, at) + x.slice(at + len) : concat(x.subarray(0, at), x.subarray(at + len));
}

/**
 * Shrinks an input while it still throws an unexpected error of the same kind: deletes ever smaller chunks
 * (delta debugging, bounded in attempts and time so a slow target cannot stall the report).
 */
export async function minimize(target: FuzzTarget, input: FuzzInput, key: string, expected: readonly ErrorClass[], budgetMs = 10_000): Promise<FuzzInput> {
  const t0 = performance.now();
  let best = input;
  const reproduces = async (x: FuzzInput) => {
    const e = await outcome(target, x);
    return e !== undefined && !isExpected(e, expected) && errorKey(e) === key;
  };
  for (let chunk = Math.max(1, sizeOf(best) >> 1); chunk >= 1; chunk >>= 1) {
    for (let at = 0; at < sizeOf(best); ) {
      if (performance.now() - t0 > budgetMs) return best;
      const cand = cut(best, at, chunk);
      if (await reproduces(cand)) best = cand;
      else at += chunk;
    }
  }
  return best;
}

function save(outDir: string | undefined, name: string, what: string, seed: number, index: number, x: FuzzInput, note: string): string | undefined {
  if (!outDir) return undefined;
  mkdirSync(outDir, { recursive: true });
  const base = join(outDir, `${name}-${what}-seed${seed}-i${index}`);
  // Text is saved as a JSON string so lone surrogates and NULs survive; bytes as they are.
  const file = typeof x === 'string' ? `${base}.json` : `${base}.bin`;
  writeFileSync(file, typeof x === 'string' ? JSON.stringify(x) : x);
  writeFileSync(`${base}.txt`, `${note}\nreplay: npm run fuzz -- --only ${name} --seed ${seed} --skip ${index} --inputs 1\n`);
  return file;
}

export async function runFuzzer(fuzzer: Fuzzer, opts: RunOptions): Promise<FuzzReport> {
  if (opts.inputs === undefined && opts.seconds === undefined) throw new Error('runFuzzer: give inputs or seconds');
  const slowMs = opts.slowMs ?? SLOW_MS;
  const target = await fuzzer.create();
  const report: FuzzReport = {
    name: fuzzer.name, seed: opts.seed, inputs: 0, ok: 0, typedErrors: 0, byClass: {}, unexpected: [], slow: [],
    slowest: { index: -1, ms: 0, size: 0 }, slowestWall: { index: -1, ms: 0, size: 0 }, wallMs: 0,
  };
  const seen = new Set<string>();
  const t0 = performance.now();
  const deadline = opts.seconds === undefined ? Infinity : t0 + opts.seconds * 1000;
  const limit = opts.inputs ?? Infinity;
  const first = opts.skip ?? 0;
  for (let k = 0; k < limit && performance.now() < deadline; k++) {
    const index = first + k;
    const input = target.generate(inputRng(opts.seed, index));
    const s = performance.now();
    const cpu0 = process.cpuUsage();
    const e = await outcome(target, input);
    const cpu = process.cpuUsage(cpu0);
    const ms = (cpu.user + cpu.system) / 1000;
    const wall = performance.now() - s;
    report.inputs++;
    if (ms > report.slowest.ms) report.slowest = { index, ms, size: sizeOf(input) };
    if (wall > report.slowestWall.ms) report.slowestWall = { index, ms: wall, size: sizeOf(input) };
    if (ms > slowMs) {
      const file = save(opts.outDir, fuzzer.name, 'slow', opts.seed, index, input, `${ms.toFixed(0)} ms CPU, ${wall.toFixed(0)} ms wall (limit ${slowMs} ms CPU)`);
      report.slow.push({ index, ms, file });
    }
    if (e === undefined) report.ok++;
    else if (isExpected(e, fuzzer.expected)) {
      report.typedErrors++;
      const c = (e as Error).constructor.name;
      report.byClass[c] = (report.byClass[c] ?? 0) + 1;
    } else {
      const key = errorKey(e);
      if (seen.has(key)) {
        report.unexpected.push({ index, error: key, size: sizeOf(input) });
      } else {
        seen.add(key);
        const small = await minimize(target, input, key, fuzzer.expected);
        const file = save(opts.outDir, fuzzer.name, 'crash', opts.seed, index, small, describeError(e));
        report.unexpected.push({ index, error: describeError(e), file, size: sizeOf(small) });
      }
    }
    if (opts.onProgress && (k + 1) % 10_000 === 0) opts.onProgress(k + 1, report);
  }
  report.wallMs = performance.now() - t0;
  return report;
}

/** One line per fuzzer for the terminal and docs/FUZZING.md. */
export function summaryLine(r: FuzzReport): string {
  const classes = Object.entries(r.byClass).map(([c, n]) => `${c} ${n}`).join(', ');
  return `${r.name}: ${r.inputs} inputs, ${r.ok} ok, ${r.typedErrors} typed errors${classes ? ` (${classes})` : ''}, ` +
    `${r.unexpected.length} unexpected, ${r.slow.length} over the CPU-time limit, slowest ${r.slowest.ms.toFixed(1)} ms CPU (input ${r.slowest.index}, ` +
    `${r.slowest.size} bytes or chars) / ${r.slowestWall.ms.toFixed(1)} ms wall (input ${r.slowestWall.index}), ` +
    `${(r.wallMs / 1000).toFixed(1)} s, seed ${r.seed}`;
}
