// The single executable (`npm run build:sea`): dist/vilavt with its native packages beside it runs from a folder
// with no node_modules anywhere above it — help, inspect, and a replayed chat on the demo checkpoint (Dawn and sharp
// load from dist/vilavt-lib). The build is skipped when its inputs did not change.
import { execFile, spawn } from 'node:child_process';
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSea } from '../../scripts/build-sea.js';
import { demoDir } from '../helpers/demo.js';

const run = promisify(execFile);
let dir: string;
let exe: string;
let demo: string;

beforeAll(async () => {
  const { exe: built } = await buildSea();
  demo = await demoDir();
  // A fresh folder in the temp dir: no package.json, no node_modules in it or above it.
  dir = await mkdtemp(join(tmpdir(), 'vilavt-sea-'));
  await cp(built, join(dir, 'vilavt'));
  await cp(join(built, '..', 'vilavt-lib'), join(dir, 'vilavt-lib'), { recursive: true });
  exe = join(dir, 'vilavt');
}, 300_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const env = { ...process.env, NODE_PATH: '', NODE_OPTIONS: '' };

describe('single executable', () => {
  it('runs --help and inspect without node_modules', async () => {
    expect(await readdir(dir)).toEqual(['vilavt', 'vilavt-lib']);
    const help = await run(exe, ['--help'], { cwd: dir, env });
    expect(help.stdout).toMatch(/^usage: vilavt <command>/);
    expect(help.stdout).toMatch(/serve --model DIR/);
    const inspect = await run(exe, ['inspect', '--model', join(demo, 'checkpoint')], { cwd: dir, env });
    expect(inspect.stdout).toMatch(/architecture: vilavt/);
    expect(inspect.stdout).toMatch(/LLM: hidden 64, 2 layers/);
    const bad = await run(exe, ['inspect', '--model', join(dir, 'missing')], { cwd: dir, env }).then(() => null, (e: { code: number; stderr: string }) => e);
    expect(bad?.code).toBe(1);
    expect(bad?.stderr).toMatch(/^error: /);
  });

  it('answers a replayed question on the demo checkpoint (Dawn and sharp load beside the executable)', async () => {
    const out = join(dir, 'out');
    const r = await run(exe, ['chat', '--model', join(demo, 'checkpoint'), '--image', join(demo, 'sample.png'), '--replay', join(demo, 'replay.json'), '--out', out, '--json'], { cwd: dir, env });
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; answer?: string });
    expect(events.filter((e) => e.type === 'region')).toHaveLength(2);
    expect(events.at(-1)).toMatchObject({ type: 'done', answer: 'circle', rounds: 3 });
    expect((await readdir(out)).sort()).toEqual(['call1_region0_image1.png', 'call2_region0_image2.png', 'sample_zooms.png']);
  });
});

describe('single executable: vilavt app', () => {
  it('serves the chat page from its own assets; without a Chromium it prints the URL; SIGTERM stops it', async () => {
    const child = spawn(exe, ['app', '--model', join(demo, 'checkpoint')], {
      cwd: dir, env: { ...env, PATH: '/nonexistent', VILAVT_BROWSER: '', VILAVT_DATA_DIR: join(dir, 'data') }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const t0 = Date.now();
    while (!/no Chrome or Chromium found/.test(out)) {
      if (Date.now() - t0 > 60_000 || child.exitCode !== null) throw new Error(`vilavt app did not start:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const url = /app: serving (\S+)/.exec(out)![1]!;
    expect(out).toContain(`open ${url}/?engine=remote in a browser`);
    const page = await (await fetch(`${url}/`)).text();
    expect(page).toMatch(/<script[^>]+app\.js/);
    expect((await fetch(`${url}/app.js`)).status).toBe(200);
    expect(await (await fetch(`${url}/app/v1/hello`)).json()).toMatchObject({ type: 'hello', info: { kind: 'remote', sources: ['server'] } });
    child.kill('SIGTERM');
    expect(await new Promise((done) => child.once('exit', (code) => done(code)))).toBe(0);
  });
});
