// Browser smoke test: bundles src/browser/selftest-page.ts, serves it from 127.0.0.1 and runs it in Debian's
// headless Chromium (WebGPU through SwiftShader, no shader-f16). When .chromium-lvp exists (scripts/setup.sh
// --with-lavapipe-chromium) a second case runs it on lavapipe with shader-f16. Screenshots go to test-results/.
import { ALL_SELF_TESTS } from '../../src/selftest/index.js';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { BrowserSelfTestReport } from '../../src/browser/selftest-page.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const systemChromium = '/usr/bin/chromium';
const lvpDir = join(root, '.chromium-lvp');
const resultsDir = join(root, 'test-results');
const skipBrowser = process.env.VILAVT_SKIP_BROWSER === '1';
const baseArgs = ['--no-sandbox', '--enable-unsafe-webgpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-quic'];
// Page timeouts stay below the tests' timeouts so a hung page fails with its console log. The self-test page took
// 0.8-49 s on lavapipe and 3-7 s on SwiftShader on the 2-core reference machine (the high end while it was busy).
const defaultPageTimeoutMs = 100_000; // vitest's testTimeout is 120 s
const lavapipePageTimeoutMs = 280_000;

const html = `<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>ViLaVT WebGPU self-test</title></head>
<body style="font-family:sans-serif"><div id="app">running…</div>
<script type="module" src="/selftest-page.js"></script></body></html>`;

let server: Server | undefined;
let origin = '';

interface Launch { label: string; executablePath: string; args: string[]; env?: Record<string, string>; timeoutMs: number }

/** Open the self-test page in a fresh headless profile and return the page's report (plus its console). */
async function runPage(launch: Launch): Promise<{ report: BrowserSelfTestReport | null; log: string[] }> {
  const userDir = mkdtempSync(join(tmpdir(), 'vilavt-chromium-'));
  const log: string[] = [];
  const context = await chromium.launchPersistentContext(userDir, {
    executablePath: launch.executablePath,
    headless: true,
    args: launch.args,
    env: launch.env ? { ...process.env as Record<string, string>, ...launch.env } : undefined,
  });
  try {
    const page = context.pages()[0] ?? await context.newPage();
    page.on('console', (m) => log.push(`console.${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
    await page.goto(`${origin}/`);
    let report: BrowserSelfTestReport | null = null;
    try {
      await page.waitForFunction(() => window.__vilavtResult !== undefined, null, { timeout: launch.timeoutMs });
      report = await page.evaluate(() => window.__vilavtResult ?? null);
    } finally {
      mkdirSync(resultsDir, { recursive: true });
      await page.screenshot({ path: join(resultsDir, `browser-${launch.label}.png`), fullPage: true });
    }
    return { report, log };
  } finally {
    await context.close();
    rmSync(userDir, { recursive: true, force: true });
  }
}

function describeFailure(report: BrowserSelfTestReport | null, log: string[]): string {
  return `page report: ${JSON.stringify(report, null, 1)}\nbrowser log:\n${log.join('\n') || '(empty)'}`;
}

function expectAllCasesPass(report: BrowserSelfTestReport | null, log: string[]): asserts report is BrowserSelfTestReport {
  const why = describeFailure(report, log);
  expect(report, why).not.toBeNull();
  expect(report!.error, why).toBeUndefined();
  expect(report!.adapter, why).not.toBeNull();
  // Every case of the registry ran, by name (a page that dropped or repeated one fails here).
  expect(report!.cases.map((c) => c.name), why).toEqual(ALL_SELF_TESTS.map((c) => c.name));
  expect(report!.cases.filter((c) => !c.ok), why).toEqual([]);
  expect(report!.ok, why).toBe(true);
}

describe.skipIf(skipBrowser)('browser self-test (headless Chromium)', () => {
  beforeAll(async () => {
    const bundle = await build({
      entryPoints: [join(root, 'src/browser/selftest-page.ts')],
      bundle: true, platform: 'browser', format: 'esm', target: 'es2022', sourcemap: 'inline', write: false, logLevel: 'silent',
    });
    const files = new Map<string, { type: string; body: string | Uint8Array }>([
      ['/', { type: 'text/html; charset=utf-8', body: html }],
      ['/selftest-page.js', { type: 'text/javascript; charset=utf-8', body: bundle.outputFiles[0]!.contents }],
    ]);
    server = createServer((req, res) => {
      const file = files.get(new URL(req.url ?? '/', 'http://x').pathname);
      if (!file) { res.writeHead(404).end(); return; }
      res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-store' }).end(file.body);
    });
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject).listen(0, '127.0.0.1', () => resolve());
    });
    const addr = server.address();
    if (!addr || typeof addr === 'string') throw new Error('static server has no TCP address');
    origin = `http://127.0.0.1:${addr.port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  test('default Chromium WebGPU (SwiftShader): adapter found, every self-test case passes', async () => {
    if (!existsSync(systemChromium)) {
      throw new Error(`${systemChromium} is missing: run scripts/setup.sh as root (apt-get install chromium), or set VILAVT_SKIP_BROWSER=1 to skip the browser test`);
    }
    const { report, log } = await runPage({ label: 'default', executablePath: systemChromium, args: baseArgs, timeoutMs: defaultPageTimeoutMs });
    expectAllCasesPass(report, log);
    const why = describeFailure(report, log);
    // The engine must enable shader-f16 exactly when the adapter offers it. Headless Chromium without a GPU
    // gives SwiftShader, which has no shader-f16, so on such machines this run covers the core (f32) path.
    expect(report.engineFeatures?.f16, why).toBe(report.adapterFeatures.includes('shader-f16'));
    if (report.adapter!.architecture === 'swiftshader') expect(report.engineFeatures?.f16, why).toBe(false);
    // Only cases that need shader-f16 may be skipped, and only when the engine runs without it.
    for (const c of report.cases.filter((x) => x.skipped)) {
      expect(report.engineFeatures?.f16, why).toBe(false);
      expect(c.name, why).toMatch(/f16/);
    }
    console.log(`[browser] ${report.adapter!.vendor}/${report.adapter!.architecture}: ${report.cases.length} cases ok in ${report.elapsedMs} ms`);
  });

  test.runIf(existsSync(lvpDir))('lavapipe in Chromium (.chromium-lvp): shader-f16 enabled, every case passes', async () => {
    const exe = join(lvpDir, 'bin', 'chromium');
    // .chromium-lvp links to the installed Chromium's files; a Chromium upgrade leaves a stale binary behind.
    if (!existsSync(exe) || statSync(exe).size !== statSync('/usr/lib/chromium/chromium').size) {
      throw new Error(`${exe} is missing or older than /usr/lib/chromium/chromium: rerun scripts/setup.sh --with-lavapipe-chromium`);
    }
    const { report, log } = await runPage({
      label: 'lavapipe-f16', executablePath: exe, args: [...baseArgs, '--use-angle=vulkan'],
      env: { VK_LAYER_PATH: join(lvpDir, 'layer'), VK_INSTANCE_LAYERS: 'VK_LAYER_spoof_swiftshader' },
      timeoutMs: lavapipePageTimeoutMs,
    });
    expectAllCasesPass(report, log);
    const why = describeFailure(report, log);
    expect(report.adapterFeatures, why).toContain('shader-f16');
    expect(report.engineFeatures?.f16, why).toBe(true);
    expect(report.cases.filter((c) => c.skipped), why).toEqual([]);
    console.log(`[browser] lavapipe ${report.adapter!.description}: ${report.cases.length} cases ok in ${report.elapsedMs} ms`);
  }, lavapipePageTimeoutMs + 20_000);
});
