// Errors as the OpenAI API reports them: an HTTP status and `{"error": {message, type, param, code}}`. Engine
// errors are mapped to a status here, once; nothing else reaches a client (no stack traces, no internals).
import { ContextOverflowError } from '../runtime/errors.js';
import { ChatError } from '../chat/errors.js';
import { ImageError } from '../preprocess/errors.js';
import { VilavtError } from '../runtime/errors.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly code: string | null = null,
    readonly param: string | null = null,
    /** Extra response headers (e.g. retry-after). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }

  body(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** 400 invalid_request_error. */
export function badRequest(message: string, param: string | null = null, code: string | null = null): ApiError {
  return new ApiError(400, 'invalid_request_error', message, code, param);
}

const isAbort = (e: unknown): boolean => e instanceof Error && e.name === 'AbortError';

/** The GPU device was lost: the server drops its sessions and reloads the model (ServerEngine.recover). */
export const isDeviceLost = (e: unknown): boolean => e instanceof VilavtError && e.code === 'device-lost';

/** The client-facing form of anything thrown while serving a request. */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof ContextOverflowError) {
    return badRequest(`the conversation needs ${e.requested} tokens, the context holds ${e.capacity}; send fewer or smaller images, or start a new conversation`, 'messages', 'context_length_exceeded');
  }
  if (e instanceof ImageError) {
    return badRequest(`image: ${e.message}`, 'messages', e.code === 'too_large' ? 'image_too_large' : 'invalid_image');
  }
  if (e instanceof ChatError) return badRequest(e.message, 'messages');
  if (isAbort(e)) return new ApiError(499, 'cancelled', 'the request was cancelled');
  if (e instanceof VilavtError) {
    // GPU trouble (device lost, out of memory, ...) is the server's, not the request's.
    return new ApiError(e.code === 'out-of-memory' ? 507 : 500, 'server_error', e.message.split('\n')[0]!, e.code);
  }
  return new ApiError(500, 'server_error', `internal error: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
}
