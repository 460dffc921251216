// npm run fuzz -- [--seconds N] [--seed S] [--only NAME[,NAME]] [--inputs N] [--skip I] [--out DIR]
// Runs the fuzzers one after another (never in parallel: the machine is shared) and exits non-zero when any input
// threw an unexpected exception or took longer than 1 s. Reproducers go to fuzz-out/ (gitignored).
import { execFileSync } from 'node:child_process';
import { FUZZERS } from './fuzzers.js';
import { runFuzzer, summaryLine, type FuzzReport } from './runner.js';

function parseArgs(argv: string[]): { seconds?: number; inputs?: number; seed: number; only?: string[]; skip: number; out: string } {
  const o: { seconds?: number; inputs?: number; seed: number; only?: string[]; skip: number; out: string } = { seed: 1, skip: 0, out: 'fuzz-out' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const int = (min: number) => {
      const v = val();
      if (!/^\d+(\.\d+)?$/.test(v) || Number(v) < min) throw new Error(`${a} must be a number >= ${min}, got ${v}`);
      return Number(v);
    };
    if (a === '--seconds') o.seconds = int(0);
    else if (a === '--inputs') o.inputs = Math.floor(int(1));
    else if (a === '--seed') o.seed = Math.floor(int(0));
    else if (a === '--skip') o.skip = Math.floor(int(0));
    else if (a === '--out') o.out = val();
    else if (a === '--only') o.only = val().split(',');
    else if (a === '--help' || a === '-h') {
      console.log(`usage: npm run fuzz -- [--seconds N per fuzzer (default 10)] [--inputs N] [--seed S] [--skip I] [--only ${FUZZERS.map((f) => f.name).join(',')}] [--out DIR]`);
      process.exit(0);
    } else throw new Error(`unknown option ${a} (try --help)`);
  }
  if (o.seconds === undefined && o.inputs === undefined) o.seconds = 10;
  return o;
}

function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const unknown = (args.only ?? []).filter((n) => !FUZZERS.some((f) => f.name === n));
  if (unknown.length) throw new Error(`unknown fuzzer ${unknown.join(', ')} (known: ${FUZZERS.map((f) => f.name).join(', ')})`);
  const chosen = FUZZERS.filter((f) => !args.only || args.only.includes(f.name));
  console.log(`fuzz: seed ${args.seed}, commit ${commit()}, ${args.inputs ?? '∞'} inputs / ${args.seconds ?? '∞'} s per fuzzer`);
  const reports: FuzzReport[] = [];
  for (const f of chosen) {
    const r = await runFuzzer(f, {
      seed: args.seed, inputs: args.inputs, seconds: args.seconds, skip: args.skip, outDir: args.out,
      onProgress: (done, p) => console.log(`  ${f.name}: ${done} inputs, ${p.unexpected.length} unexpected, ${p.slow.length} slow`),
    });
    reports.push(r);
    console.log(summaryLine(r));
    for (const u of r.unexpected.filter((x) => x.file)) console.log(`  UNEXPECTED at input ${u.index}: ${u.error.split('\n')[0]}\n    reproducer: ${u.file}`);
    for (const s of r.slow) console.log(`  SLOW input ${s.index}: ${s.ms.toFixed(0)} ms${s.file ? ` (${s.file})` : ''}`);
  }
  const bad = reports.filter((r) => r.unexpected.length || r.slow.length);
  console.log(bad.length ? `FAIL: ${bad.map((r) => r.name).join(', ')}` : 'ok: no unexpected exception, no input over 1 s');
  return bad.length ? 1 : 0;
}

main().then((code) => process.exit(code), (e) => {
  console.error(`fuzz: ${(e as Error).message}`);
  process.exit(2);
});
