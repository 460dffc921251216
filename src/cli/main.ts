// The `vilavt` command: chat, inspect, golden, selftest. Every failure is one line on stderr and a non-zero exit.
import { pathToFileURL } from 'node:url';
import { reportError, UsageError } from './fail.js';

const USAGE = `usage: vilavt <command> [options]
  chat --model DIR --image PATH [--image PATH ...] "question"   answer a question about images (--help for options)
  compare --model [SYSTEM=]DIR ... --image PATH "question"       one question through ViLaVT / DeepEyes / Pixel-Reasoner, side by side
  serve --model DIR [--port 8080] [--api-key KEY]                 the OpenAI chat API on 127.0.0.1 (--help for options)
  app --model DIR                                                 the chat app in its own window, engine in this process
  inspect --model DIR|config.json                                 describe a checkpoint and its memory plan
  quantize --model IN --out OUT [--group 128]                     write a 4-bit (AWQ layout) copy of a checkpoint
  golden DIR [--f32|--f16|--both]                                 run a golden folder (model scenarios, resampling, loop)
  selftest                                                        every GPU kernel against its CPU reference`;

async function selftestMain(argv: string[]): Promise<number> {
  if (argv.length) throw new UsageError('usage: vilavt selftest');
  const { createNodeGpu } = await import('../platform/node.js');
  const { runSelfTest } = await import('../selftest/index.js');
  const gpu = await createNodeGpu();
  console.log(gpu.describe());
  const results = await runSelfTest(gpu, (r) =>
    console.log(`${r.skipped ? 'SKIP' : r.ok ? 'PASS' : 'FAIL'} ${r.name}: max rel err ${r.maxRelErr.toExponential(2)} (${Math.round(r.ms)} ms)${r.detail ? ` ${r.detail}` : ''}`));
  const failed = results.filter((r) => !r.ok).length;
  const skipped = results.filter((r) => r.skipped).length;
  const ran = results.length - skipped;
  console.log(failed ? `selftest: ${failed} of ${ran} FAILED` : `selftest: all ${ran} passed${skipped ? ` (${skipped} skipped: feature not offered by this adapter)` : ''}`);
  return failed ? 1 : 0;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'chat':
      return (await import('./chat.js')).chatMain(rest);
    case 'compare':
      return (await import('./compare.js')).compareMain(rest);
    case 'serve':
      return (await import('./serve.js')).serveMain(rest);
    case 'app':
      return (await import('./app.js')).appMain(rest);
    case 'inspect':
      return (await import('./inspect.js')).inspectMain(rest);
    case 'quantize':
      return (await import('./quantize.js')).quantizeMain(rest);
    case 'golden':
      return (await import('./golden.js')).goldenMain(rest);
    case 'selftest':
      return selftestMain(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return cmd === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command '${cmd}'\n${USAGE}`);
  }
}

/** Run as a program: exit with main's status; errors become one line. */
export function run(argv: string[]): void {
  main(argv).then(
    (code) => { process.exitCode = code; },
    (e: unknown) => { process.exitCode = reportError(e); },
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) run(process.argv.slice(2));
