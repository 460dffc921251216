// Typed error of the KV cache: the conversation no longer fits the context reserved for it.
import { VilavtError } from '../runtime/errors.js';

export class ContextOverflowError extends VilavtError {
  constructor(readonly capacity: number, readonly requested: number) {
    super('context-overflow', `context overflow: ${requested} tokens requested, the KV cache holds ${capacity}`);
  }
}
