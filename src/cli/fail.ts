// How the CLI reports a failure: one line, no stack trace (VILAVT_DEBUG=1 adds it), a stable exit status.
import { VilavtError } from '../runtime/errors.js';
import { ImageError } from '../preprocess/errors.js';

/** Bad command-line usage (exit status 2). */
export class UsageError extends Error {}

/** A failure with a message meant for the user as is (exit status 1). */
export class CliError extends Error {}

const HINTS: Record<string, string> = {
  'context-overflow': ' (raise --context, or ask with fewer/smaller images)',
  'device-lost': ' (the GPU driver reset or ran out of memory; restart the command)',
  'out-of-memory': ' (try --f16, a smaller --context, or a smaller model)',
  'non-finite': ' (check the checkpoint with `vilavt inspect`; with --f16, try f32 activations)',
  'no-adapter': ' (no WebGPU adapter: check the Vulkan/Metal/D3D12 driver)',
};

/** The one line printed for `e`. */
export function describeError(e: unknown): string {
  if (e instanceof UsageError || e instanceof CliError) return e.message;
  if (e instanceof VilavtError) return `${e.message}${HINTS[e.code] ?? ''}`;
  if (e instanceof ImageError) return `image error: ${e.message}`;
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err.code === 'string' && typeof err.path === 'string') {
    const what = err.code === 'ENOENT' ? 'no such file or directory' : err.code === 'EACCES' ? 'permission denied' : err.code;
    return `${what}: ${err.path}`;
  }
  if (e instanceof Error && e.name === 'AbortError') return 'cancelled';
  return `internal error: ${e instanceof Error ? e.message : String(e)}`;
}

/** Print `e` on stderr as one line (plus the stack with VILAVT_DEBUG=1); returns the exit status. */
export function reportError(e: unknown): number {
  if (e instanceof UsageError) {
    process.stderr.write(`error: ${e.message}\n`); // the message's first line, then the usage text
    return 2;
  }
  // Multi-line messages (compiler output) are folded into the one line.
  const line = describeError(e).split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
  process.stderr.write(`error: ${line.length > 500 ? `${line.slice(0, 500)}…` : line}\n`);
  if (process.env.VILAVT_DEBUG && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
  return 1;
}
