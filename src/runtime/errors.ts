// Typed errors of the GPU runtime. Every error carries a stable `code` so callers (CLI, session, UI) can react
// without parsing messages.
import { formatBytes } from '../util/format.js';

export class VilavtError extends Error {
  constructor(readonly code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** No WebGPU implementation, or no adapter offered by it. */
export class NoAdapterError extends VilavtError {
  constructor(message: string) { super('no-adapter', message); }
}

/** The adapter cannot provide a limit the engine needs (e.g. too small a storage binding). */
export class MissingLimitError extends VilavtError {
  constructor(readonly limit: string, readonly required: number, readonly available: number) {
    super('missing-limit', `adapter limit ${limit} is ${available}, the engine needs at least ${required}`);
  }
}

/** The adapter lacks an optional feature that a requested mode needs (e.g. timestamp-query for profiling). */
export class MissingFeatureError extends VilavtError {
  constructor(readonly feature: string, why: string) {
    super('missing-feature', `this adapter does not offer '${feature}': ${why}`);
  }
}

/** A GPU allocation failed. */
export class OutOfMemoryError extends VilavtError {
  constructor(readonly what: string, readonly bytes: number, detail?: string) {
    super('out-of-memory', `GPU out of memory allocating ${what} (${formatBytes(bytes)})${detail ? `: ${detail}` : ''}`);
  }
}

/** The device was lost (driver reset, tab backgrounded, destroy()). The engine must be recreated. */
export class DeviceLostError extends VilavtError {
  constructor(readonly reason: string, detail: string) {
    super('device-lost', `GPU device lost (${reason})${detail ? `: ${detail}` : ''}`);
  }
}

/** A WGSL kernel failed to compile or its pipeline failed to build. */
export class ShaderCompileError extends VilavtError {
  constructor(readonly kernel: string, readonly compilerMessage: string) {
    super('shader-compile', `WGSL kernel '${kernel}' failed to compile:\n${compilerMessage}`);
  }
}

/** A GPU validation error surfaced by an error scope (a bug in the engine, reported with context). */
export class GpuValidationError extends VilavtError {
  constructor(readonly context: string, detail: string) {
    super('gpu-validation', `GPU validation error in ${context}: ${detail}`);
  }
}

/** The model produced NaN or infinite values (seen in the logits the sampler reads); names the step. */
export class NonFiniteError extends VilavtError {
  constructor(readonly step: string) {
    super('non-finite', `non-finite logits (NaN or infinity) at ${step}: the weights or activations overflowed or are corrupt`);
  }
}

/** The KV cache cannot take the rows asked for: the conversation no longer fits the context reserved for it. */
export class ContextOverflowError extends VilavtError {
  constructor(readonly capacity: number, readonly requested: number) {
    super('context-overflow', `context overflow: ${requested} tokens requested, the KV cache holds ${capacity}`);
  }
}

/** Wrong shapes, dtypes or arguments handed to an op. */
export class ShapeError extends VilavtError {
  constructor(message: string) { super('shape', message); }
}

