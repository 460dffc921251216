// Message model and the Qwen2.5-VL chat template (the checkpoint's chat_template), written out in TS.

export type ContentItem =
  | { type: 'text'; text: string }
  /** An image placeholder; `index` is the image's 0-based position among all images of the conversation. */
  | { type: 'image'; index: number };

export type Role = 'system' | 'user' | 'assistant';

export interface Message {
  role: Role;
  content: string | ContentItem[];
}

export const IM_START = '<|im_start|>';
export const IM_END = '<|im_end|>';
/** One image before `<|image_pad|>` expansion. */
export const IMAGE_PLACEHOLDER = '<|vision_start|><|image_pad|><|vision_end|>';
const DEFAULT_SYSTEM = 'You are a helpful assistant.';

export interface RenderOptions {
  addGenerationPrompt: boolean;
}

/**
 * How a driver turns its conversation into prompt text: `renderPrompt` (the built-in rules) or a checkpoint's own
 * chat template (ChatTemplate.renderer). Called once per LLM call, never per token.
 */
export type PromptRenderer = (messages: readonly Message[], opts: RenderOptions) => string;

/**
 * apply_chat_template(messages, tokenize=False): `<|im_start|>{role}\n{content}<|im_end|>\n` per
 * message; a list content is its items concatenated with no separator (image -> placeholder, text
 * verbatim); the default system prompt only if the first message is not a system message.
 */
export function renderPrompt(messages: readonly Message[], opts: RenderOptions): string {
  let out = '';
  messages.forEach((m, i) => {
    if (i === 0 && m.role !== 'system') out += `${IM_START}system\n${DEFAULT_SYSTEM}${IM_END}\n`;
    out += `${IM_START}${m.role}\n`;
    if (typeof m.content === 'string') out += m.content;
    else for (const item of m.content) out += item.type === 'image' ? IMAGE_PLACEHOLDER : item.text;
    out += `${IM_END}\n`;
  });
  if (opts.addGenerationPrompt) out += `${IM_START}assistant\n`;
  return out;
}
