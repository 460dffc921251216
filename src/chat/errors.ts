import { VilavtError } from '../runtime/errors.js';

/** Bad input to the chat loop (no image, bad settings) or a call out of sequence. */
export class ChatError extends VilavtError {
  constructor(message: string) {
    super('chat', message);
  }
}
