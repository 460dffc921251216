// `vilavt golden DIR [--f32|--f16|--both]` (also `npm run golden -- DIR`): runs a golden folder with the runner its
// files call for — scenarios.json: the model runner (on the GPU), cases.json with `kind: "decode"`: image decoding
// (each file decoded and converted to RGB, compared by SHA-256), cases.json with other `cases`: resampling,
// cases.json with `trajectories`: a chat loop (`format` deepeyes-loop-golden/1 and pixelreasoner-loop-golden/1:
// those systems' drivers; otherwise ViLaVT's). Prints one PASS/FAIL line per check; exit status 1 on any FAIL.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ActDType } from '../runtime/dtype.js';
import { CliError, reportError, UsageError } from './fail.js';
import { parseCommand } from './args.js';

const USAGE = 'usage: vilavt golden DIR [--f32|--f16|--both]   (model scenarios: both paths by default)';

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

export async function goldenMain(argv: string[]): Promise<number> {
  const parsed = parseCommand({
    args: argv, allowPositionals: true,
    options: { f32: { type: 'boolean' }, f16: { type: 'boolean' }, both: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  }, USAGE);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new UsageError(USAGE);
  const dir = positionals[0]!;
  if (!(await stat(dir).catch(() => null))?.isDirectory()) throw new CliError(`golden folder not found: ${dir}`);

  let result: { ok: boolean; lines: string[] };
  if (await exists(join(dir, 'scenarios.json'))) {
    // Default: both paths (f16 only where the adapter has shader-f16, reported as skipped otherwise).
    const both = values.both || (!values.f32 && !values.f16);
    const acts: ActDType[] = both ? ['f32', 'f16'] : values.f16 ? ['f16'] : ['f32'];
    const { createNodeGpu } = await import('../platform/node.js');
    const { runModelGolden } = await import('../golden/model.js');
    const gpu = await createNodeGpu();
    result = { ok: true, lines: [] };
    for (const act of acts) {
      if (act === 'f16' && !gpu.features.f16) {
        if (both) { result.lines.push('SKIP f16: this adapter has no shader-f16'); continue; }
        throw new CliError('--f16: this adapter has no shader-f16');
      }
      const r = await runModelGolden(dir, gpu, act);
      result.ok &&= r.ok;
      result.lines.push(...r.lines);
    }
  } else if (await exists(join(dir, 'cases.json'))) {
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(await readFile(join(dir, 'cases.json'), 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new CliError(`${join(dir, 'cases.json')}: ${(e as Error).message}`);
    }
    if (doc.kind === 'decode') {
      result = await (await import('../golden/decode.js')).runDecodeGolden(dir);
    } else if (doc.format === 'deepeyes-loop-golden/1') {
      result = await (await import('../golden/deepeyes.js')).runDeepEyesGolden(dir);
    } else if (doc.format === 'pixelreasoner-loop-golden/1') {
      result = await (await import('../golden/pixelreasoner.js')).runPixelReasonerGolden(dir);
    } else if (Array.isArray(doc.trajectories) && doc.format !== undefined && !/^vilavt-loop-golden\//.test(String(doc.format))) {
      throw new CliError(`${join(dir, 'cases.json')}: unknown trajectory format ${JSON.stringify(doc.format)} (known: vilavt-loop-golden/1, deepeyes-loop-golden/1, pixelreasoner-loop-golden/1)`);
    } else if (Array.isArray(doc.trajectories)) {
      result = await (await import('../golden/loop.js')).runLoopGolden(dir);
    } else if (Array.isArray(doc.cases)) {
      result = await (await import('../golden/resample.js')).runResampleGolden(dir);
    } else {
      throw new CliError(`${join(dir, 'cases.json')} has neither "cases" nor "trajectories"`);
    }
  } else {
    throw new CliError(`${dir} holds neither scenarios.json nor cases.json`);
  }
  for (const l of result.lines) console.log(l);
  const fails = result.lines.filter((l) => l.startsWith('FAIL')).length;
  console.log(result.ok ? `golden ${dir}: all ${result.lines.length} checks passed` : `golden ${dir}: ${fails} of ${result.lines.length} checks FAILED`);
  return result.ok ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  goldenMain(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => process.exit(reportError(e)),
  );
}
