// `npm run fuzz` in miniature: every fuzzer for a fixed number of inputs with a fixed seed must meet no unexpected
// exception and no input over 1 s; and the runner itself must catch what it is there to catch.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FUZZERS } from '../../scripts/fuzz/fuzzers.js';
import { runFuzzer, summaryLine, type Fuzzer } from '../../scripts/fuzz/runner.js';
import { ChatError } from '../../src/chat/errors.js';

/** Inputs per fuzzer: a few seconds for all of them together on the 2-core reference machine. */
const SHORT_RUN = 150;

describe('fuzzers, short run (seed 1)', () => {
  for (const f of FUZZERS) {
    it(`${f.name}: ${SHORT_RUN} inputs, no unexpected exception, none over 1 s`, async () => {
      const r = await runFuzzer(f, { seed: 1, inputs: SHORT_RUN });
      expect(r.inputs).toBe(SHORT_RUN);
      expect(r.unexpected.map((u) => u.error), summaryLine(r)).toEqual([]);
      expect(r.slow, summaryLine(r)).toEqual([]);
      // The generators must reach both sides of the parser: accepted inputs and typed rejections (or, for the turn
      // parsers whose bad input is a tool error fed back to the model, plenty of accepted ones).
      expect(r.ok, summaryLine(r)).toBeGreaterThan(0);
      if (f.expected.length && !f.name.endsWith('-call')) expect(r.typedErrors, summaryLine(r)).toBeGreaterThan(0);
    });
  }
});

describe('fuzz runner', () => {
  /** A target that parses "n=<digits>": crashes with a TypeError on a 'x', throws the typed error on a '!', stalls on '~'. */
  const injected: Fuzzer = {
    name: 'injected',
    description: 'test target',
    expected: [ChatError],
    async create() {
      return {
        generate: (rng) => `n=${rng.int(1000)}${rng.pick(['', '', '!', 'x', '~'])}pad-pad-pad`,
        run(input) {
          const s = input as string;
          if (s.includes('!')) throw new ChatError('typed');
          if (s.includes('x')) (null as unknown as { f(): void }).f();
          if (s.includes('~')) {
            // A slow input: 30 ms of CPU time (what the runner measures), however busy the machine is.
            const c0 = process.cpuUsage();
            while (process.cpuUsage(c0).user < 30_000) { /* spin */ }
          }
        },
      };
    },
  };

  it('reports a crashing input as unexpected, saves a minimized reproducer, counts typed errors, flags slow inputs', async () => {
    const out = mkdtempSync(join(tmpdir(), 'fuzz-runner-'));
    try {
      const r = await runFuzzer(injected, { seed: 5, inputs: 200, slowMs: 20, outDir: out });
      expect(r.inputs).toBe(200);
      expect(r.unexpected.length).toBeGreaterThan(0);
      expect(r.unexpected[0]!.error).toMatch(/^TypeError: Cannot read properties of null/);
      // Minimized: the crash needs only the 'x' (the runner deletes every other character it can).
      expect(JSON.parse(readFileSync(r.unexpected[0]!.file!, 'utf8'))).toBe('x');
      expect(readFileSync(r.unexpected[0]!.file!.replace(/\.json$/, '.txt'), 'utf8')).toMatch(/--only injected --seed 5 --skip \d+ --inputs 1/);
      expect(r.byClass.ChatError).toBe(r.typedErrors);
      expect(r.typedErrors).toBeGreaterThan(0);
      expect(r.slow.length).toBeGreaterThan(0);
      expect(r.slowest.ms).toBeGreaterThanOrEqual(20);
      expect(r.ok + r.typedErrors + r.unexpected.length).toBe(200);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('is reproducible: the same seed gives the same inputs, --skip replays one input', async () => {
    const seen: string[] = [];
    const recording: Fuzzer = { ...injected, async create() {
      const t = await injected.create();
      return { generate: (rng) => { const x = t.generate(rng) as string; seen.push(x); return x; }, run: () => undefined };
    } };
    await runFuzzer(recording, { seed: 9, inputs: 20 });
    const first = seen.splice(0);
    await runFuzzer(recording, { seed: 9, inputs: 20 });
    expect(seen.splice(0)).toEqual(first);
    await runFuzzer(recording, { seed: 9, inputs: 1, skip: 13 });
    expect(seen).toEqual([first[13]]);
  });
});
