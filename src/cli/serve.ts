// `vilavt serve`: the OpenAI chat API on a loaded checkpoint (src/server/). Prints `listening on URL` on stdout
// once ready; SIGINT/SIGTERM close it.
import { realpath, stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { CliError, UsageError } from './fail.js';
import { intOption as int, parseCommand } from './args.js';

const USAGE = `usage: vilavt serve --model DIR [options]
  --port N               TCP port (default 8080; 0 = any free port)
  --host ADDR            interface to bind (default 127.0.0.1: this machine only)
  --api-key KEY          require "Authorization: Bearer KEY" on /v1/* (or env VILAVT_API_KEY)
  --f16                  f16 activations (needs shader-f16)
  --allow-files DIR      image_url may name files under DIR (file:///... or an absolute path); default: data URLs only
  --name ID              the model id clients send (default: the folder's name)
  --context N            KV cache tokens per conversation (default 32768, at most the model's positions)
  --cache-mb MB          memory for kept conversations' KV caches (default 4096)
  --queue N              requests that may wait behind the running one (default 8)
  --max-images N         images per request (default 16)
  --max-image-mb MB      bytes per image (default 20)       --max-pixels N   pixels per image (default 50000000)
  --max-body-mb MB       request body (default 100)`;

export interface ServeArgs {
  model: string;
  port: number;
  host: string;
  apiKey: string | null;
  f16: boolean;
  allowFiles: string | null;
  name: string;
  context: number | undefined;
  cacheMb: number;
  queue: number;
  maxImages: number;
  maxImageBytes: number;
  maxPixels: number;
  maxBodyBytes: number;
}

export async function parseServeArgs(argv: string[]): Promise<ServeArgs | null> {
  const parsed = parseCommand({
    args: argv,
    options: {
      model: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, 'api-key': { type: 'string' },
      f16: { type: 'boolean' }, 'allow-files': { type: 'string' }, name: { type: 'string' }, context: { type: 'string' },
      'cache-mb': { type: 'string' }, queue: { type: 'string' }, 'max-images': { type: 'string' }, 'max-image-mb': { type: 'string' },
      'max-pixels': { type: 'string' }, 'max-body-mb': { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  }, USAGE);
  if (!parsed) return null;
  const v = parsed.values;
  const extraArg = (parsed.positionals as string[])[0];
  if (extraArg !== undefined) throw new UsageError(`unexpected argument ${JSON.stringify(extraArg)}\n${USAGE}`);
  if (!v.model) throw new UsageError(`--model DIR is required\n${USAGE}`);
  if (!(await stat(v.model).catch(() => null))?.isDirectory()) throw new CliError(`model directory not found: ${v.model}`);
  let allowFiles: string | null = null;
  if (v['allow-files'] !== undefined) {
    allowFiles = await realpath(resolve(v['allow-files'])).catch(() => null);
    if (allowFiles === null || !(await stat(allowFiles)).isDirectory()) throw new CliError(`--allow-files: not a directory: ${v['allow-files']}`);
  }
  const port = int('port', v.port, 8080, 0);
  if (port > 65535) throw new UsageError(`--port must be at most 65535, got ${port}`);
  const mb = 1024 * 1024;
  return {
    model: v.model, port, host: v.host ?? '127.0.0.1', apiKey: v['api-key'] ?? process.env.VILAVT_API_KEY ?? null,
    f16: v.f16 ?? false, allowFiles, name: v.name ?? basename(resolve(v.model)),
    context: v.context === undefined ? undefined : int('context', v.context, 0, 2),
    cacheMb: int('cache-mb', v['cache-mb'], 4096, 0), queue: int('queue', v.queue, 8, 0),
    maxImages: int('max-images', v['max-images'], 16, 1), maxImageBytes: int('max-image-mb', v['max-image-mb'], 20, 1) * mb,
    maxPixels: int('max-pixels', v['max-pixels'], 50_000_000, 1), maxBodyBytes: int('max-body-mb', v['max-body-mb'], 100, 1) * mb,
  };
}

export async function serveMain(argv: string[]): Promise<number> {
  const a = await parseServeArgs(argv);
  if (!a) return 0;
  const { startServer } = await import('../server/start.js');
  const running = await startServer(a);
  console.log(`listening on ${running.url} (model '${a.name}'${a.apiKey ? ', API key required' : ''})`);
  await new Promise<void>((done) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void running.close().then(done, done);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  return 0;
}
