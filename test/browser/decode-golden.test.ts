// The browser image decoder (src/platform/browser-image.ts) on the decode goldens in Debian's headless Chromium:
// every case is decoded in the page, converted to RGB and hashed there (src/golden/decode-case.ts, the Node
// runner's own check). Every case must match Pillow 9.4 byte for byte; docs/IMAGES.md has the table (and what the
// browser alone gets wrong: 16-bit and alpha PNGs, transparency, BMP variants, CMYK rounding).
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecodeGoldenDoc } from '../../src/golden/decode-case.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const goldens = join(root, 'test/fixtures/golden');
const systemChromium = '/usr/bin/chromium';
const skipBrowser = process.env.VILAVT_SKIP_BROWSER === '1';
const args = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic', '--disable-gpu'];

const page_ts = `import { decodeImageBytes } from './src/platform/browser-image.ts';
import { checkDecodeCase } from './src/golden/decode-case.ts';
window.__runDecodeGolden = async (folder) => {
  const doc = await (await fetch('/golden/' + folder + '/cases.json')).json();
  const lines = [];
  for (const c of doc.cases) {
    const bytes = new Uint8Array(await (await fetch('/golden/' + folder + '/' + c.file)).arrayBuffer());
    lines.push(await checkDecodeCase(c, bytes, decodeImageBytes));
  }
  return lines;
};`;

let server: Server | undefined;
let context: BrowserContext | undefined;
let userDir: string | undefined;
let page: Page;
const log: string[] = [];

describe.skipIf(skipBrowser)('browser image decoder on the decode goldens (headless Chromium)', () => {
  beforeAll(async () => {
    if (!existsSync(systemChromium)) {
      throw new Error(`${systemChromium} is missing: run scripts/setup.sh as root (apt-get install chromium), or set VILAVT_SKIP_BROWSER=1 to skip the browser tests`);
    }
    const bundle = await build({
      stdin: { contents: page_ts, resolveDir: root, loader: 'js' },
      bundle: true, platform: 'browser', format: 'iife', target: 'es2022', write: false, logLevel: 'silent',
    });
    const script = bundle.outputFiles[0]!.contents;
    server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path === '/') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script src="/page.js"></script>');
      } else if (path === '/page.js') {
        res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(script);
      } else if (/^\/golden\/decode-[ab]\/[\w.-]+$/.test(path)) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(readFileSync(join(goldens, path.slice('/golden/'.length))));
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve, reject) => server!.once('error', reject).listen(0, '127.0.0.1', () => resolve()));
    const addr = server.address();
    if (!addr || typeof addr === 'string') throw new Error('static server has no TCP address');
    userDir = mkdtempSync(join(tmpdir(), 'vilavt-chromium-'));
    context = await chromium.launchPersistentContext(userDir, { executablePath: systemChromium, headless: true, args });
    page = context.pages()[0] ?? await context.newPage();
    page.on('console', (m) => log.push(`console.${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
    await page.goto(`http://127.0.0.1:${addr.port}/`);
  });

  afterAll(async () => {
    await context?.close();
    if (userDir) rmSync(userDir, { recursive: true, force: true });
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  describe.each(['decode-a', 'decode-b'])('%s', (folder) => {
    const doc = JSON.parse(readFileSync(join(goldens, folder, 'cases.json'), 'utf8')) as DecodeGoldenDoc;
    let lines: string[] = [];
    beforeAll(async () => {
      lines = await page.evaluate((f) => (window as unknown as { __runDecodeGolden(f: string): Promise<string[]> }).__runDecodeGolden(f), folder);
      console.log(`[browser decode ${folder}]\n${lines.join('\n')}`);
    });

    it('one line per case', () => {
      expect(lines.map((l) => l.split(' ')[1]), log.join('\n')).toEqual(doc.cases.map((c) => c.file));
    });

    it.each(doc.cases.map((c) => [c.file, c.pillow_mode] as const))('%s (Pillow mode %s) is byte-identical', (file) => {
      expect(lines.find((l) => l.split(' ')[1] === file)).toMatch(/^PASS /);
    });
  });
});
