/**
 * Builds the chat app as a static site (src/cli/web-site.ts) into a folder any static host serves; models come from
 * a URL, a picked folder or the browser's cache (docs/WEB-APP.md).
 *
 *   npm run build:web [-- --out DIR (default dist/web)]
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { buildWebSite } from '../src/cli/web-site.js';

const root = fileURLToPath(new URL('..', import.meta.url));

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { out: { type: 'string' } } });
  const out = values.out ?? join(root, 'dist/web');
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  const files = await buildWebSite();
  for (const [name, body] of files) await writeFile(join(out, name), body);
  const kib = [...files.values()].reduce((n, b) => n + b.byteLength, 0) / 1024;
  console.log(`build:web: wrote ${files.size} files (${kib.toFixed(0)} KiB) to ${out}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    console.error((e as Error).message ?? e);
    process.exit(1);
  });
}
