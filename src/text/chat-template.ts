// The checkpoint's own chat template, rendered with @huggingface/jinja (transformers' apply_chat_template
// environment: trim_blocks + lstrip_blocks, which the library applies). src/text/conversation.ts has the stock
// template's semantics written out in TypeScript (renderPrompt), the fallback for a checkpoint without a template;
// test/text/chat-template.test.ts proves the two agree on every golden prompt.
import { Template } from '@huggingface/jinja';
import { renderPrompt, type Message, type PromptRenderer } from './conversation.js';
import { ChatTemplateError } from './errors.js';

/**
 * The stock Qwen2-VL / Qwen2.5-VL chat template (MODEL.md §6.3): default system message only when the first message
 * is not a system message; list content = items concatenated (image -> <|vision_start|><|image_pad|><|vision_end|>,
 * text verbatim); `add_generation_prompt` appends `<|im_start|>assistant\n`. Used when the checkpoint has none.
 */
export const QWEN25_VL_CHAT_TEMPLATE =
  "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}{% for message in messages %}{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n{% else %}{% for content in message['content'] %}{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>{% elif content['type'] == 'video' or 'video' in content %}{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

export type ChatTemplateSource = 'chat_template.jinja' | 'chat_template.json' | 'tokenizer_config.json' | 'builtin';

export interface ChatTemplateFiles {
  /** Text of chat_template.jinja, if present. */
  chatTemplateJinja?: string | null;
  /** Parsed chat_template.json ({"chat_template": "..."}), if present. */
  chatTemplateJson?: unknown;
  /** Parsed tokenizer_config.json, if present. */
  tokenizerConfig?: unknown;
}

/** A template value: a string, or transformers' list form [{name, template}] (the "default" one is used). */
function templateString(v: unknown, file: string): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) {
    const named = v.find((t) => typeof t === 'object' && t !== null && (t as { name?: unknown }).name === 'default');
    const tpl = (named as { template?: unknown } | undefined)?.template;
    if (typeof tpl === 'string') return tpl;
  }
  throw new ChatTemplateError(file, `chat_template must be a string or a list with a "default" entry, got ${JSON.stringify(v).slice(0, 80)}`);
}

export class ChatTemplate {
  private readonly template: Template;

  constructor(readonly text: string, readonly source: ChatTemplateSource | string = 'builtin') {
    try {
      this.template = new Template(text);
    } catch (e) {
      throw new ChatTemplateError(source, `cannot parse: ${(e as Error).message}`, { cause: e });
    }
  }

  /** The checkpoint's template (chat_template.jinja > chat_template.json > tokenizer_config.json), else the built-in one. */
  static fromFiles(files: ChatTemplateFiles): ChatTemplate {
    if (typeof files.chatTemplateJinja === 'string') return new ChatTemplate(files.chatTemplateJinja, 'chat_template.jinja');
    const fromJson = (obj: unknown, file: ChatTemplateSource): ChatTemplate | null => {
      if (obj === undefined || obj === null) return null;
      if (typeof obj !== 'object' || Array.isArray(obj)) throw new ChatTemplateError(file, 'not a JSON object');
      const s = templateString((obj as { chat_template?: unknown }).chat_template, file);
      return s === null ? null : new ChatTemplate(s, file);
    };
    return (
      fromJson(files.chatTemplateJson, 'chat_template.json') ??
      fromJson(files.tokenizerConfig, 'tokenizer_config.json') ??
      new ChatTemplate(QWEN25_VL_CHAT_TEMPLATE, 'builtin')
    );
  }

  /** True for the stock Qwen2.5-VL template (what renderPrompt implements), whoever supplied it. */
  get isBuiltin(): boolean {
    return this.text === QWEN25_VL_CHAT_TEMPLATE;
  }

  /**
   * What the chat drivers render prompts with: the built-in rules for the stock template (the same text, without
   * interpreting jinja on every call), this template otherwise — a checkpoint's own system prompt or role markers
   * reach the model as it was trained with them.
   */
  get renderer(): PromptRenderer {
    return this.isBuiltin ? renderPrompt : (messages, opts) => this.render(messages, opts);
  }

  /** apply_chat_template(messages, tokenize=False, add_generation_prompt). */
  render(messages: readonly Message[], opts: { addGenerationPrompt: boolean }): string {
    // The HF message format: image items carry no payload the template looks at.
    const hf = messages.map((m) => ({
      role: m.role,
      content: typeof m.content === 'string' ? m.content : m.content.map((c) => (c.type === 'image' ? { type: 'image' } : { type: 'text', text: c.text })),
    }));
    try {
      return this.template.render({
        messages: hf,
        add_generation_prompt: opts.addGenerationPrompt,
        bos_token: '',
        eos_token: '<|im_end|>',
      });
    } catch (e) {
      throw new ChatTemplateError(this.source, `cannot render: ${(e as Error).message}`, { cause: e });
    }
  }
}
