/**
 * Writes a golden case folder (tiny-a format) for a generated checkpoint variant, expected values from our float64
 * reference; then `npm run golden -- DIR/<variant>` runs it through the engine.
 *   npx tsx test/reference/make-golden-case.ts DIR [--variant NAME ...]   (default: every variant, one sub-folder each)
 *   npx tsx test/reference/make-golden-case.ts --list
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { makeGoldenCase, VARIANTS, variantByName, writeGoldenCase } from './golden-case.js';
import { runMain } from '../../scripts/run-main.js';

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      variant: { type: 'string', multiple: true },
      list: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.list) {
    for (const v of VARIANTS) console.log(`${v.name.padEnd(16)} ${v.about}`);
    return 0;
  }
  if (values.help || positionals.length !== 1) {
    console.error('usage: make-golden-case DIR [--variant NAME ...] | --list');
    return values.help ? 0 : 2;
  }
  const variants = values.variant ? values.variant.map(variantByName) : VARIANTS;
  for (const v of variants) {
    const dir = join(positionals[0]!, v.name);
    const t0 = performance.now();
    await writeGoldenCase(dir, await makeGoldenCase(v));
    console.log(`wrote ${dir} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
  return 0;
}

runMain(main);
