// `vilavt app` with a real (not headless) Chromium window on a virtual X display (Xvfb, installed by
// scripts/setup.sh): the app starts the engine behind a loopback server and opens the chat page in app mode; the
// test drives that window over the DevTools protocol (the app's own --remote-debugging-port, passed through
// VILAVT_APP_BROWSER_ARGS) to answer the demo's replayed question, saves a screenshot of the X screen
// (test-results/app-window.png) and checks it is not blank; a second `vilavt app` reuses the running one; closing
// the window stops the server. VILAVT_SKIP_BROWSER=1 skips it (as the other browser tests).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoDir } from '../helpers/demo.js';
import { readXwd } from '../helpers/xwd.js';

const root = join(import.meta.dirname, '..', '..');
const systemChromium = '/usr/bin/chromium';
const skip = process.env.VILAVT_SKIP_BROWSER === '1';

let work: string;
let demo: string;
let xvfb: ChildProcess | null = null;
let app: ChildProcess | null = null;
let appOut = '';
let display = '';
let browser: Browser | null = null;
const env = () => ({ ...process.env, DISPLAY: display, VILAVT_DATA_DIR: join(work, 'data'), VILAVT_BROWSER: systemChromium });

function waitFor<T>(what: string, probe: () => T | null | undefined, ms = 60_000): Promise<T> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      const v = probe();
      if (v !== null && v !== undefined) resolve(v);
      else if (Date.now() - t0 > ms) reject(new Error(`timed out waiting for ${what}; app output:\n${appOut}`));
      else setTimeout(tick, 100);
    };
    tick();
  });
}

beforeAll(async () => {
  if (skip) return;
  if (spawnSync('sh', ['-c', 'command -v Xvfb']).status !== 0) throw new Error('Xvfb is missing: run scripts/setup.sh as root (apt-get install xvfb), or set VILAVT_SKIP_BROWSER=1');
  if (!existsSync(systemChromium)) throw new Error(`${systemChromium} is missing: run scripts/setup.sh as root, or set VILAVT_SKIP_BROWSER=1`);
  demo = await demoDir();
  work = mkdtempSync(join(tmpdir(), 'vilavt-app-'));
  mkdirSync(join(work, 'fb'));
  // -displayfd: Xvfb picks a free display and writes its number to fd 3; -fbdir: the screen as an XWD file.
  xvfb = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', '1280x900x24', '-fbdir', join(work, 'fb'), '-nolisten', 'tcp'], { stdio: ['ignore', 'ignore', 'ignore', 'pipe'] });
  let fd3 = '';
  xvfb.stdio[3]!.on('data', (d: Buffer) => { fd3 += d.toString(); });
  display = `:${(await waitFor('Xvfb', () => (fd3.includes('\n') ? fd3.trim() : null), 20_000))}`;
}, 120_000);

afterAll(async () => {
  await browser?.close().catch(() => {});
  app?.kill();
  xvfb?.kill();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe.skipIf(skip)('vilavt app (a real Chromium window under Xvfb)', () => {
  let page: Page;

  it('starts the server and opens the chat in an app window that answers a replayed question', async () => {
    app = spawn(process.execPath, [join(root, 'bin', 'vilavt.mjs'), 'app', '--model', join(demo, 'checkpoint')], {
      env: { ...env(), VILAVT_APP_BROWSER_ARGS: '--remote-debugging-port=0' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    app.stdout!.on('data', (d: Buffer) => { appOut += d.toString(); });
    app.stderr!.on('data', (d: Buffer) => { appOut += d.toString(); });
    const url = await waitFor('the server', () => /app: serving (\S+)/.exec(appOut)?.[1], 120_000);
    await waitFor('the window', () => (appOut.includes('app: opened a window') ? true : null));
    const portFile = join(work, 'data', 'chromium-profile', 'DevToolsActivePort');
    const port = await waitFor('DevTools', () => (existsSync(portFile) ? readFileSync(portFile, 'utf8').split('\n')[0] || null : null));
    browser = await chromium.connectOverCDP(`http://127.0.0.1:${port}`);
    page = await waitFor('the app page', () => browser!.contexts().flatMap((c) => c.pages()).find((p) => p.url().startsWith(url)));
    expect(new URL(page.url()).searchParams.get('engine')).toBe('remote');
    // The page loads the server's model by itself.
    await page.waitForFunction(() => window.__vilavtApp?.state === 'ready', null, { timeout: 60_000 });
    expect(await page.evaluate(() => window.__vilavtApp!.model)).toMatchObject({ source: 'server', name: 'checkpoint' });
    expect(await page.locator('#adapter').textContent()).toContain('Engine in the local server (Node)');

    await page.getByLabel('Add images').setInputFiles(join(demo, 'sample.png'));
    await page.getByLabel('Replay').setInputFiles(join(demo, 'replay.json'));
    await page.getByLabel('Message').fill(JSON.parse(readFileSync(join(demo, 'replay.json'), 'utf8')).question);
    await page.getByRole('button', { name: 'Send' }).click();
    await page.waitForFunction(() => window.__vilavtApp?.turns[0]?.answer != null, null, { timeout: 90_000 });
    const turn = await page.evaluate(() => window.__vilavtApp!.turns[0]!);
    expect(turn.answer).toBe('circle');
    expect(turn.calls.map((c) => c.reused_tokens > 0)).toEqual([false, true, true]);
    expect(await page.locator('#chat').textContent()).toContain('circle');
  });

  it('the window on the X screen: saved and not blank', async () => {
    await page.waitForTimeout(500); // let the compositor put the last frame on screen
    const shot = readXwd(join(work, 'fb', 'Xvfb_screen0'));
    mkdirSync(join(root, 'test-results'), { recursive: true });
    const path = join(root, 'test-results', 'app-window.png');
    await sharp(shot.rgb, { raw: { width: shot.width, height: shot.height, channels: 3 } }).png().toFile(path);
    const stats = await sharp(path).stats();
    // A blank (or black) screen has ~0 deviation; the chat page has text, images and crops.
    expect(stats.channels.slice(0, 3).every((c) => c.stdev > 20)).toBe(true);
    // Xvfb's root window without the app is black: most of the screen must be the (light) page.
    expect(stats.channels.slice(0, 3).every((c) => c.mean > 128)).toBe(true);
  });

  it('a second `vilavt app` reuses the running one (another window, same server)', async () => {
    const before = browser!.contexts().flatMap((c) => c.pages()).length;
    const second = spawnSync(process.execPath, [join(root, 'bin', 'vilavt.mjs'), 'app', '--model', join(demo, 'checkpoint')], { env: env(), encoding: 'utf8', timeout: 60_000 });
    expect(second.status).toBe(0);
    expect(second.stdout).toMatch(/already running at http:\/\/127\.0\.0\.1:\d+; opened another window/);
    await waitFor('the second window', () => (browser!.contexts().flatMap((c) => c.pages()).length > before ? true : null));
  });

  it('closing the windows stops the server', async () => {
    const url = /app: serving (\S+)/.exec(appOut)![1]!;
    expect((await fetch(`${url}/health`)).ok).toBe(true);
    for (const p of browser!.contexts().flatMap((c) => c.pages())) await p.close();
    const code = await new Promise<number | null>((done) => (app!.exitCode !== null ? done(app!.exitCode) : app!.once('exit', (c) => done(c))));
    expect(code).toBe(0);
    expect(appOut).toMatch(/the window was closed; stopping the server/);
    await expect(fetch(`${url}/health`)).rejects.toThrow();
    expect(existsSync(join(work, 'data', 'app.json'))).toBe(false);
    app = null;
  });
});
