/**
 * Builds the chat app as a static site: index.html, app.css, app.js (the page, src/browser/app.ts), worker.js (the
 * engine worker, src/browser/worker.ts) and selftest.html + selftest.js (the kernel self-test page). Any static host
 * serves it; models come from a URL, a picked folder or the browser's cache (docs/WEB-APP.md).
 *
 *   npm run build:web [-- --out DIR (default dist/web)]
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

const SELFTEST_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>ViLaVT WebGPU self-test</title></head>
<body style="font-family:sans-serif"><div id="app">running…</div>
<script type="module" src="selftest.js"></script></body></html>
`;

/** The site's files by path (no leading slash). `sourcemap` inlines source maps (tests, the dev server). */
export async function buildWebSite(opts: { sourcemap?: boolean } = {}): Promise<Map<string, Uint8Array>> {
  const bundle = async (entry: string) => {
    const r = await build({
      entryPoints: [join(root, entry)], bundle: true, platform: 'browser', format: 'esm', target: 'es2022',
      sourcemap: opts.sourcemap ? 'inline' : false, minify: !opts.sourcemap, write: false, logLevel: 'silent',
    });
    return r.outputFiles[0]!.contents;
  };
  const [app, worker, selftest] = await Promise.all([bundle('src/browser/app.ts'), bundle('src/browser/worker.ts'), bundle('src/browser/selftest-page.ts')]);
  const enc = new TextEncoder();
  return new Map<string, Uint8Array>([
    ['index.html', await readFile(join(root, 'demo/index.html'))],
    ['app.css', await readFile(join(root, 'demo/app.css'))],
    ['app.js', app],
    ['worker.js', worker],
    ['selftest.html', enc.encode(SELFTEST_HTML)],
    ['selftest.js', selftest],
  ]);
}

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
