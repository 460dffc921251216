import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DeepEyesDriver } from '../../src/chat/deepeyes.js';
import { ChatDriver } from '../../src/chat/driver.js';
import { PixelReasonerDriver } from '../../src/chat/pixelreasoner.js';
import { runDeepEyesGolden } from '../../src/golden/deepeyes.js';
import { runLoopGolden } from '../../src/golden/loop.js';
import { qwen25Tokenizer, runPixelReasonerGolden } from '../../src/golden/pixelreasoner.js';
import type { RgbImage } from '../../src/preprocess/image.js';
import { renderPrompt, type Message, type PromptRenderer, type RenderOptions } from '../../src/text/conversation.js';
import { ChatTemplate, QWEN25_VL_CHAT_TEMPLATE } from '../../src/text/chat-template.js';
import { ChatTemplateError } from '../../src/text/errors.js';
import { expectLoopGoldenPasses, goldenDir } from '../helpers/golden-cases.js';

const builtin = new ChatTemplate(QWEN25_VL_CHAT_TEMPLATE);

/** Renders with the jinja template and records what the built-in rules give for the same conversation. */
function comparingRenderer(): { render: PromptRenderer; pairs: { jinja: string; rules: string; opts: RenderOptions }[] } {
  const pairs: { jinja: string; rules: string; opts: RenderOptions }[] = [];
  const render: PromptRenderer = (messages, opts) => {
    const jinja = builtin.render(messages, opts);
    pairs.push({ jinja, rules: renderPrompt(messages, opts), opts });
    return jinja;
  };
  return { render, pairs };
}

describe('chat template (jinja) vs the built-in rules on every prompt the drivers build for the goldens', () => {
  const goldens = [
    { name: 'loop-a', run: runLoopGolden },
    { name: 'deepeyes-a', run: runDeepEyesGolden },
    { name: 'pixelreasoner-a', run: runPixelReasonerGolden },
  ];
  for (const g of goldens) {
    it(`${g.name}: the drivers rendering with the jinja template still pass, with the same token ids as the built-in rules`, async () => {
      const { render, pairs } = comparingRenderer();
      // Every prompt and final conversation the golden records (prompt_sha256, conversation_sha256) comes from jinja here.
      await expectLoopGoldenPasses(g.run, g.name, { render });
      // One prompt per recorded call, one final conversation per trajectory.
      const cases = JSON.parse(readFileSync(join(goldenDir(g.name), 'cases.json'), 'utf8')) as { trajectories: { expected: { calls: unknown[] } }[] };
      const prompts = pairs.filter((p) => p.opts.addGenerationPrompt);
      expect(prompts).toHaveLength(cases.trajectories.reduce((n, t) => n + t.expected.calls.length, 0));
      expect(pairs.length - prompts.length).toBe(cases.trajectories.length);
      const tok = qwen25Tokenizer();
      for (const [k, p] of pairs.entries()) {
        expect(p.rules, `render ${k}`).toBe(p.jinja);
        expect(tok.encode(p.rules), `render ${k}`).toEqual(tok.encode(p.jinja));
      }
    }, 240_000);
  }
});

/** The stock template with user turns marked `human` (a checkpoint trained with another role marker). */
const HUMAN_TEMPLATE = QWEN25_VL_CHAT_TEMPLATE.replace("<|im_start|>{{ message['role'] }}\n", "<|im_start|>{{ 'human' if message['role'] == 'user' else message['role'] }}\n");

describe("a checkpoint's own template", () => {
  const image: RgbImage = { width: 56, height: 84, channels: 3, data: new Uint8Array(56 * 84 * 3).map((_, i) => (i * 37) % 251) };
  const question = { images: [{ image, name: 'a.png' }], question: 'What is shown?' };

  it('is what the drivers render with when it differs from the stock template', () => {
    expect(HUMAN_TEMPLATE).not.toBe(QWEN25_VL_CHAT_TEMPLATE);
    const own = ChatTemplate.fromFiles({ chatTemplateJson: { chat_template: HUMAN_TEMPLATE } });
    expect(own.isBuiltin).toBe(false);
    // The stock template, whoever supplies it, keeps the built-in rules (same text, no jinja per call).
    expect(ChatTemplate.fromFiles({ tokenizerConfig: { chat_template: QWEN25_VL_CHAT_TEMPLATE } }).renderer).toBe(renderPrompt);
    const drivers = [
      (render?: PromptRenderer) => new ChatDriver({ ...question, problemType: 'free-form', options: null, render }),
      (render?: PromptRenderer) => new DeepEyesDriver({ ...question, render }),
      (render?: PromptRenderer) => new PixelReasonerDriver({ ...question, render }),
    ];
    for (const make of drivers) {
      const stock = make().nextCall()!.prompt;
      const ours = make(own.renderer).nextCall()!.prompt;
      expect(stock).toContain('<|im_start|>user\n');
      expect(ours).not.toContain('<|im_start|>user\n');
      expect(ours).toBe(stock.replaceAll('<|im_start|>user\n', '<|im_start|>human\n'));
    }
  });

  it('a different default system prompt changes a conversation without a system message', () => {
    const own = new ChatTemplate(QWEN25_VL_CHAT_TEMPLATE.replace('You are a helpful assistant.', 'You are a careful assistant.'), 'tokenizer_config.json');
    const msgs: Message[] = [{ role: 'user', content: 'Hi' }];
    expect(own.renderer(msgs, { addGenerationPrompt: true })).toBe(
      renderPrompt(msgs, { addGenerationPrompt: true }).replace('You are a helpful assistant.', 'You are a careful assistant.'));
  });
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
