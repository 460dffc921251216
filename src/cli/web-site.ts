// The chat app as a static site, built in memory: index.html, app.css, app.js (the page, src/browser/app.ts),
// worker.js (the engine worker, src/browser/worker.ts) and selftest.html + selftest.js (the kernel self-test page).
// Used by `npm run build:web` (scripts/build-web.ts), the demo server and `vilavt app`. Needs esbuild (a dev
// dependency) and the repository's sources.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('../..', import.meta.url));

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
