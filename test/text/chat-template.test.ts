import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderPrompt, type ContentItem, type Message } from '../../src/text/conversation.js';
import { firstTurnText, imageIndexPrompt, REASONING_SYSTEM_PROMPT } from '../../src/chat/prompts.js';
import { ChatTemplate, QWEN25_VL_CHAT_TEMPLATE } from '../../src/text/chat-template.js';
import { ChatTemplateError } from '../../src/text/errors.js';

interface GoldenCall {
  prompt: string;
  prompt_sha256: string;
  tool_response_content?: ({ type: 'text'; text: string } | { type: 'image' })[] | null;
}
interface Trajectory {
  name: string;
  input: { responses: { text: string }[] };
  expected: {
    question_text: string;
    initial_images: { processed_wh: [number, number] }[];
    calls: GoldenCall[];
    final: { num_messages: number; conversation_sha256: string };
  };
}

const golden = JSON.parse(readFileSync(new URL('../fixtures/golden/loop-a/cases.json', import.meta.url), 'utf8')) as { trajectories: Trajectory[] };
const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const builtin = new ChatTemplate(QWEN25_VL_CHAT_TEMPLATE);

/** The conversation before each call, rebuilt from the golden's turn contents. */
function conversations(t: Trajectory): { beforeCall: Message[][]; final: Message[] } {
  const imgs = t.expected.initial_images;
  const [w, h] = imgs[imgs.length - 1]!.processed_wh;
  const first: ContentItem[] = [];
  imgs.forEach((_, i) => first.push({ type: 'image', index: i }, { type: 'text', text: imageIndexPrompt(i) }));
  first.push({ type: 'text', text: firstTurnText(imgs.length, w, h, t.expected.question_text) });
  const messages: Message[] = [
    { role: 'system', content: REASONING_SYSTEM_PROMPT },
    { role: 'user', content: first },
  ];
  let nextImage = imgs.length;
  const beforeCall: Message[][] = [];
  t.expected.calls.forEach((call, k) => {
    beforeCall.push([...messages]);
    messages.push({ role: 'assistant', content: [{ type: 'text', text: t.input.responses[k]!.text }] });
    if (call.tool_response_content) {
      messages.push({
        role: 'user',
        content: call.tool_response_content.map((c): ContentItem => (c.type === 'image' ? { type: 'image', index: nextImage++ } : { type: 'text', text: c.text })),
      });
    }
  });
  return { beforeCall, final: messages };
}

describe('chat template (jinja) vs the loop golden', () => {
  it('the golden has 14 trajectories with 46 calls (README: 3+2+4+2+4+2+2+2+10+1+4+5+2+3)', () => {
    expect(golden.trajectories).toHaveLength(14);
    expect(golden.trajectories.reduce((n, t) => n + t.expected.calls.length, 0)).toBe(46);
  });

  for (const t of golden.trajectories) {
    it(`${t.name}: every prompt is byte-identical (jinja and renderPrompt)`, () => {
      const { beforeCall, final } = conversations(t);
      t.expected.calls.forEach((call, k) => {
        const jinja = builtin.render(beforeCall[k]!, { addGenerationPrompt: true });
        expect(sha256(call.prompt)).toBe(call.prompt_sha256); // the fixture itself is intact
        expect(jinja, `call ${k}`).toBe(call.prompt);
        expect(renderPrompt(beforeCall[k]!, { addGenerationPrompt: true }), `renderPrompt call ${k}`).toBe(jinja);
      });
      expect(final).toHaveLength(t.expected.final.num_messages);
      const conv = builtin.render(final, { addGenerationPrompt: false });
      expect(sha256(conv)).toBe(t.expected.final.conversation_sha256);
      expect(renderPrompt(final, { addGenerationPrompt: false })).toBe(conv);
    });
  }
});

describe('ChatTemplate', () => {
  const noSystem: Message[] = [
    { role: 'user', content: [{ type: 'image', index: 0 }, { type: 'text', text: 'Describe this image.' }] },
    { role: 'assistant', content: 'A house.' },
  ];

  it('injects the default system prompt only without a system message (MODEL.md §6.3)', () => {
    const out = builtin.render(noSystem, { addGenerationPrompt: false });
    expect(out).toBe(
      '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' +
        '<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Describe this image.<|im_end|>\n' +
        '<|im_start|>assistant\nA house.<|im_end|>\n',
    );
    expect(renderPrompt(noSystem, { addGenerationPrompt: true })).toBe(builtin.render(noSystem, { addGenerationPrompt: true }));
  });

  it('picks the checkpoint template: chat_template.jinja > chat_template.json > tokenizer_config.json > built-in', () => {
    const tpl = (tag: string) => `${tag}{% for m in messages %}[{{ m['role'] }}]{% endfor %}`;
    const msgs: Message[] = [{ role: 'user', content: 'x' }];
    const all = { chatTemplateJinja: tpl('J'), chatTemplateJson: { chat_template: tpl('C') }, tokenizerConfig: { chat_template: tpl('T') } };
    expect(ChatTemplate.fromFiles(all).render(msgs, { addGenerationPrompt: false })).toBe('J[user]');
    expect(ChatTemplate.fromFiles({ ...all, chatTemplateJinja: null }).source).toBe('chat_template.json');
    expect(ChatTemplate.fromFiles({ tokenizerConfig: all.tokenizerConfig }).render(msgs, { addGenerationPrompt: false })).toBe('T[user]');
    expect(ChatTemplate.fromFiles({ tokenizerConfig: { chat_template: [{ name: 'default', template: tpl('D') }] } }).render(msgs, { addGenerationPrompt: false })).toBe('D[user]');
    const fallback = ChatTemplate.fromFiles({ tokenizerConfig: {} });
    expect(fallback.source).toBe('builtin');
    expect(fallback.text).toBe(QWEN25_VL_CHAT_TEMPLATE);
  });

  it('reports template errors with a typed error', () => {
    expect(() => new ChatTemplate('{% for m in messages %}', 'tokenizer_config.json')).toThrow(ChatTemplateError);
    expect(() => ChatTemplate.fromFiles({ tokenizerConfig: { chat_template: 42 } })).toThrow(/tokenizer_config\.json/);
    const raising = new ChatTemplate("{{ raise_exception('no') }}", 'x');
    expect(() => raising.render([], { addGenerationPrompt: false })).toThrow(ChatTemplateError);
  });
});
