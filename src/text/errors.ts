// Typed errors of the text side (tokenizers, chat template, inquiry tokenization, image-pad expansion).
import { VilavtError } from '../runtime/errors.js';

/** A tokenizer file is unusable, or an encode/decode argument is invalid. */
export class TokenizerError extends VilavtError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('tokenizer', message, options);
  }
}

/** A token the engine relies on (e.g. `<|im_end|>`) is not in the tokenizer's vocabulary. */
export class MissingSpecialTokenError extends VilavtError {
  constructor(readonly token: string, where: string) {
    super('missing-special-token', `required special token ${JSON.stringify(token)} is not in ${where}`);
  }
}

/** The chat template failed to parse or to render. */
export class ChatTemplateError extends VilavtError {
  constructor(readonly source: string, message: string, options?: { cause?: unknown }) {
    super('chat-template', `chat template (${source}): ${message}`, options);
  }
}

/** The number of `<|image_pad|>` placeholders does not match the number of images, or a count is invalid. */
export class ImagePadMismatchError extends VilavtError {
  constructor(message: string) {
    super('image-pad-mismatch', message);
  }
}
