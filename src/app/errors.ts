// Errors of the app's engine with the protocol's kind, and the mapping of any thrown value to an EngineError.
import { VilavtError } from '../runtime/errors.js';
import { ImageError } from '../preprocess/errors.js';
import type { EngineError, EngineErrorKind } from './protocol.js';

/** A failure the engine explains itself (won't fit, quota, network, busy…). */
export class AppError extends Error {
  constructor(readonly kind: EngineErrorKind, message: string) {
    super(message);
    this.name = 'AppError';
  }
}

function isAbort(e: unknown): boolean {
  return (e instanceof DOMException || e instanceof Error) && e.name === 'AbortError';
}

/** What a command's `failed` reply says about `e`. */
export function toEngineError(e: unknown): EngineError {
  if (e instanceof AppError) return { kind: e.kind, message: e.message };
  if (isAbort(e)) return { kind: 'aborted', message: 'stopped' };
  if (e instanceof VilavtError) {
    if (e.code === 'device-lost') return { kind: 'device_lost', message: e.message };
    if (e.code === 'unsupported') return { kind: 'unsupported', message: e.message };
    return { kind: 'bad_input', message: e.message };
  }
  if (e instanceof ImageError) return { kind: 'bad_input', message: e.message };
  if (e instanceof TypeError && /fetch|network/i.test(e.message)) return { kind: 'network', message: `network error: ${e.message}` };
  return { kind: 'internal', message: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
}
