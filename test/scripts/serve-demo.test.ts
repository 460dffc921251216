// scripts/serve-demo.ts: Range parsing and the server's answers (what httpRangeSource relies on).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRange, startDemoServer, type DemoServer } from '../../scripts/serve-demo.js';

describe('parseRange', () => {
  it('parses one range, clamps the end, handles suffixes, ignores what it may ignore', () => {
    expect(parseRange('bytes=0-9', 100)).toEqual([0, 9]);
    expect(parseRange('bytes=90-200', 100)).toEqual([90, 99]);
    expect(parseRange('bytes=95-', 100)).toEqual([95, 99]);
    expect(parseRange('bytes=-10', 100)).toEqual([90, 99]);
    expect(parseRange('bytes=-500', 100)).toEqual([0, 99]);
    expect(parseRange('bytes=100-', 100)).toBe('unsatisfiable');
    expect(parseRange('bytes=-0', 100)).toBe('unsatisfiable');
    for (const h of [undefined, 'bytes=5-2', 'bytes=0-1,4-5', 'items=0-1', 'bytes=-']) expect(parseRange(h, 100)).toBeNull();
  });
});

describe('demo server', () => {
  let dir: string;
  let s: DemoServer;
  const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 37 + 11) % 251);
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vilavt-serve-'));
    writeFileSync(join(dir, 'w.bin'), bytes);
    mkdirSync(join(dir, 'sub'));
    s = await startDemoServer({ assets: dir });
  });
  afterAll(async () => {
    await s?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the app, its bundles, and assets by range', async () => {
    expect((await fetch(`${s.origin}/`)).headers.get('content-type')).toMatch(/text\/html/);
    expect(await (await fetch(`${s.origin}/app.js`)).text()).toContain('__vilavtApp');
    expect((await fetch(`${s.origin}/worker.js`)).headers.get('content-type')).toMatch(/javascript/);
    expect((await fetch(`${s.origin}/app.css`)).headers.get('content-type')).toMatch(/text\/css/);
    const head = await fetch(`${s.origin}/assets/w.bin`, { method: 'HEAD' });
    expect([head.status, head.headers.get('content-length'), head.headers.get('accept-ranges')]).toEqual([200, '1000', 'bytes']);
    const part = await fetch(`${s.origin}/assets/w.bin`, { headers: { Range: 'bytes=10-19' } });
    expect([part.status, part.headers.get('content-range')]).toEqual([206, 'bytes 10-19/1000']);
    expect(new Uint8Array(await part.arrayBuffer())).toEqual(bytes.slice(10, 20));
    const tail = await fetch(`${s.origin}/assets/w.bin`, { headers: { Range: 'bytes=-3' } });
    expect(new Uint8Array(await tail.arrayBuffer())).toEqual(bytes.slice(997));
    const past = await fetch(`${s.origin}/assets/w.bin`, { headers: { Range: 'bytes=1000-' } });
    expect([past.status, past.headers.get('content-range')]).toEqual([416, 'bytes */1000']);
    expect(new Uint8Array(await (await fetch(`${s.origin}/assets/w.bin`)).arrayBuffer())).toEqual(bytes);
  });

  it('answers 404 for missing files and folders, 403 outside the assets folder, 405 for writes', async () => {
    expect((await fetch(`${s.origin}/assets/nope.bin`)).status).toBe(404);
    expect((await fetch(`${s.origin}/assets/sub/`)).status).toBe(404);
    expect((await fetch(`${s.origin}/assets/%2E%2E%2Fpackage.json`)).status).toBe(403); // encoded ../
    expect((await fetch(`${s.origin}/assets/`)).status).toBe(403); // the folder itself
    expect((await fetch(`${s.origin}/assets/w.bin`, { method: 'POST' })).status).toBe(405);
  });
});
