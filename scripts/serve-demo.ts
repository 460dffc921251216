/**
 * Serves the chat app on 127.0.0.1: the static site of src/cli/web-site.ts (built in memory) and the demo assets of
 * scripts/make-demo.ts under /assets/ (checkpoint/, sample.png, replay.json) with HTTP Range support, so the app
 * reads the checkpoint the way it would read one from any static file host. Like the Hugging Face hub for LFS files,
 * weight files (.safetensors) carry their SHA-256 in `X-Linked-ETag`, which the app checks after downloading.
 *
 *   npm run demo:web -- [--port N (default 8737; 0 = any free port)] [--assets DIR (default .demo, generated if missing)]
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { buildWebSite } from '../src/cli/web-site.js';
import { makeDemo } from './make-demo.js';

const root = fileURLToPath(new URL('..', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.css': 'text/css; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json', '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.webp': 'image/webp',
  '.jinja': 'text/plain; charset=utf-8', '.safetensors': 'application/octet-stream',
};

/** The one byte range of a `Range` header (inclusive ends), 'unsatisfiable', or null to serve the whole file. */
export function parseRange(header: string | undefined, size: number): [number, number] | 'unsatisfiable' | null {
  const m = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null; // absent, multi-range or malformed: RFC 9110 lets us ignore it
  if (m[1] === '') {
    const n = Number(m[2]); // suffix: the last n bytes
    return n === 0 || size === 0 ? 'unsatisfiable' : [Math.max(0, size - n), size - 1];
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== '' && Number(m[2]) < start) return null; // invalid range: ignored
  return start >= size ? 'unsatisfiable' : [start, end];
}

const hashes = new Map<string, Promise<string>>();

/** SHA-256 of a file, computed once per path, size and mtime. */
function fileSha256(path: string, size: number, mtimeMs: number): Promise<string> {
  const key = `${path}|${size}|${mtimeMs}`;
  let h = hashes.get(key);
  if (!h) {
    h = new Promise((ok, fail) => {
      const hash = createHash('sha256');
      createReadStream(path).on('data', (d) => hash.update(d)).on('error', fail).on('end', () => ok(hash.digest('hex')));
    });
    hashes.set(key, h);
  }
  return h;
}

async function sendFile(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  const info = await stat(path).catch(() => null);
  if (!info?.isFile()) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    return;
  }
  const size = info.size;
  const base: Record<string, string> = { 'content-type': TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream', 'accept-ranges': 'bytes', 'cache-control': 'no-store' };
  if (path.endsWith('.safetensors')) base['x-linked-etag'] = `"${await fileSha256(path, size, info.mtimeMs)}"`;
  const range = parseRange(req.headers.range, size);
  if (range === 'unsatisfiable') {
    res.writeHead(416, { ...base, 'content-range': `bytes */${size}` }).end();
    return;
  }
  const [start, end] = range ?? [0, size - 1];
  const headers = { ...base, 'content-length': String(Math.max(0, end - start + 1)), ...(range ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}) };
  res.writeHead(range ? 206 : 200, headers);
  if (req.method === 'HEAD' || size === 0) {
    res.end();
    return;
  }
  createReadStream(path, { start, end }).on('error', () => res.destroy()).pipe(res);
}

export interface DemoServer {
  server: Server;
  /** http://127.0.0.1:PORT */
  origin: string;
  /** The app with the demo assets' checkpoint, image and replay as presets (loads the model; asks on Send). */
  demoUrl: string;
  /** Every request so far (tests count the network reads of a checkpoint). */
  requests: { method: string; path: string; range: string | null }[];
  close(): Promise<void>;
}

/** Build the app and serve it with the assets folder (a makeDemo output) under /assets/. */
export async function startDemoServer(opts: { assets: string; port?: number; host?: string }): Promise<DemoServer> {
  const assets = resolve(opts.assets);
  const site = await buildWebSite({ sourcemap: true });
  const pages = new Map([['/', site.get('index.html')!], ...[...site].map(([name, body]) => [`/${name}`, body] as const)]);

  const requests: DemoServer['requests'] = [];
  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', path: req.url ?? '', range: req.headers.range ?? null });
    void (async () => {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      let path: string;
      try {
        path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      } catch {
        res.writeHead(400).end();
        return;
      }
      const page = pages.get(path);
      if (page) {
        const type = TYPES[extname(path === '/' ? 'index.html' : path)] ?? 'application/octet-stream';
        res.writeHead(200, { 'content-type': type, 'content-length': String(page.byteLength), 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : page);
        return;
      }
      if (path.startsWith('/assets/')) {
        const file = resolve(assets, `.${path.slice('/assets'.length)}`);
        if (!file.startsWith(assets + sep) || path.includes('\0')) {
          res.writeHead(403).end();
          return;
        }
        await sendFile(req, res, file);
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    })().catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`${(e as Error).message}\n`);
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail).listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => ok());
  });
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('demo server has no TCP address');
  const origin = `http://${addr.address}:${addr.port}`;
  const demoUrl = `${origin}/?model=/assets/checkpoint/&image=/assets/sample.png&replay=/assets/replay.json`;
  return {
    server, origin, demoUrl, requests,
    close: () => new Promise<void>((ok) => {
      server.closeAllConnections();
      server.close(() => ok());
    }),
  };
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { port: { type: 'string' }, assets: { type: 'string' } } });
  const port = values.port === undefined ? 8737 : Number(values.port);
  if (!Number.isSafeInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0..65535, got ${values.port}`);
  const assets = values.assets ?? join(root, '.demo');
  const made = await makeDemo(assets); // a no-op when up to date
  if (!made.skipped) console.log(`make-demo: wrote ${made.files.length} files to ${assets}`);
  const s = await startDemoServer({ assets, port });
  console.log(`ViLaVT chat app: ${s.origin}/\n  with the demo checkpoint, image and replay as presets (press Send): ${s.demoUrl}\n` +
    '  (Chrome on Linux needs --enable-unsafe-webgpu; Ctrl-C stops the server)');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    console.error((e as Error).message ?? e);
    process.exit(1);
  });
}
