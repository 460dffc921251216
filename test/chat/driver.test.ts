// Loop behaviour the loop-a golden does not exercise (rules 4-5 of its README).
import { expect, it } from 'vitest';
import { ChatDriver } from '../../src/chat/driver.js';
import { ChatError } from '../../src/chat/errors.js';

function driver(): ChatDriver {
  const data = new Uint8Array(112 * 84 * 3).map((_, i) => (i * 37) & 255);
  return new ChatDriver({
    images: [{ image: { width: 112, height: 84, channels: 3, data }, name: 'img.png' }],
    question: 'Q?',
    problemType: 'free-form',
    options: null,
  });
}
const stop = (text: string) => ({ text, finishReason: 'stop' as const, stopReason: null });

it('drops a response whose JSON raises a non-decode error and re-sends the same prompt', () => {
  const d = driver();
  const first = d.nextCall()!;
  expect(first.newImages).toEqual([0]);
  expect(first.newGroups).toEqual([0]);
  const out = d.acceptResponse(stop(`<tool> {"region": [], "query": ${'7'.repeat(4301)}} </tool>`));
  expect(out.outcome).toBe('process_error');
  expect(d.conversation).toHaveLength(2);
  const again = d.nextCall()!;
  expect(again.prompt).toBe(first.prompt);
  expect(again.callsLeft).toBe(first.callsLeft - 1);
  expect(again.newImages).toEqual([]);
});

it('reports new images and groups per call, and an <answer> after <|endoftext|> is a tool call', () => {
  const d = driver();
  d.nextCall();
  const t = d.acceptResponse(stop('<tool> {"region": [{"index": 0, "bbox_2d": [0, 0, 56, 42]}], "query": "corner"} </tool>'));
  expect(t.outcome).toBe('tool');
  const second = d.nextCall()!;
  expect(second.newImages).toEqual([1]);
  expect(second.newGroups).toEqual([1]);
  expect(second.imageToQuery).toEqual([0, 1]);
  const u = d.acceptResponse({ text: '<answer> A </answer>', finishReason: 'stop', stopReason: 151643 });
  expect(u.outcome === 'tool' && u.tool.error).toBe('tool_args must be a dictionary');
  d.nextCall();
  expect(d.acceptResponse({ text: 'cut off', finishReason: 'length', stopReason: null }).outcome).toBe('finished');
  expect(d.nextCall()).toBeNull();
  const f = d.final();
  expect(f.stopCause).toBe('length');
  expect(f.answer).toBe('cut off');
  expect(f.numMessages).toBe(7);
});

it('enforces the call sequence and rejects a loop without images', () => {
  const d = driver();
  expect(() => d.acceptResponse(stop('x'))).toThrow(ChatError);
  d.nextCall();
  expect(() => d.nextCall()).toThrow(ChatError);
  expect(() => d.final()).toThrow(ChatError);
  expect(() => new ChatDriver({ images: [], question: 'q', problemType: 'free-form', options: null })).toThrow(ChatError);
});

it('a conversation rebuilt from plain history: system note appended, assumed answers, then the follow-up', () => {
  const data = new Uint8Array(112 * 84 * 3).map((_, i) => (i * 31) & 255);
  const d = new ChatDriver({
    images: [{ image: { width: 112, height: 84, channels: 3, data }, name: 'img.png' }],
    question: 'Q1?', problemType: 'free-form', options: null, systemNote: 'Answer in French.',
  });
  expect(() => d.followUp({ images: [], question: 'too early' })).toThrow(ChatError);
  d.assumeAnswer('<answer> A1 </answer>');
  expect(() => d.assumeAnswer('twice')).toThrow(ChatError);
  d.followUp({ images: [], question: 'Q2?' });
  const call = d.nextCall()!;
  expect(call.call).toBe(0); // the assumed answer ran no LLM call
  // system (reasoning prompt + note), user Q1 with the image, the assumed assistant text, user Q2, generation prompt.
  expect(call.prompt).toMatch(/^<\|im_start\|>system\nYou are a helpful assistant\. \n[\s\S]*<tool> \{"region"[^\n]*<\/tool>\n\nAnswer in French\.<\|im_end\|>\n<\|im_start\|>user\n<\|vision_start\|>/);
  expect(call.prompt).toContain('# Question: Q1?');
  expect(call.prompt).toContain('<|im_end|>\n<|im_start|>assistant\n<answer> A1 </answer><|im_end|>\n<|im_start|>user\n');
  expect(call.prompt.indexOf('# Question: Q2?')).toBeGreaterThan(call.prompt.indexOf('<answer> A1 </answer>'));
  expect(call.prompt.endsWith('<|im_start|>assistant\n')).toBe(true);
  expect(call.images).toHaveLength(1);
});

it('follow-ups: only after the loop stopped, within the image cap; mark/restore drops an abandoned message whole', () => {
  const d = driver();
  expect(() => d.followUp({ images: [], question: 'too early' })).toThrow(ChatError); // the first message is running
  d.nextCall();
  d.acceptResponse(stop('<answer> A </answer>'));
  const answered = d.final().conversation;
  const mark = d.mark();
  const extra = { image: { width: 56, height: 56, channels: 3 as const, data: new Uint8Array(56 * 56 * 3).fill(9) }, name: 'b.png' };
  d.followUp({ images: [extra], question: 'And now?', maxCalls: 2 });
  const call = d.nextCall()!;
  // The new message follows the answered conversation; the new image is index 1 in its own query group 1.
  expect(call.prompt.startsWith(answered)).toBe(true);
  expect(call.prompt.slice(answered.length).startsWith('<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>The index of the provided image is 1.\n')).toBe(true);
  expect(call.prompt).toContain('The image indexed by 1 has size: width 56, height 56.\n\n# Question: And now?\n');
  expect(call.newImages).toEqual([1]);
  expect(call.newGroups).toEqual([1]);
  expect(call.callsLeft).toBe(1);
  // Abandoned mid-call: back to the answered state; the next follow-up gets index 1 again.
  d.restore(mark);
  expect(d.final().conversation).toBe(answered);
  expect(d.allImages).toHaveLength(1);
  d.followUp({ images: [], question: 'Again?' });
  const again = d.nextCall()!;
  expect(again.newImages).toEqual([]);
  expect(again.prompt.startsWith(`${answered}<|im_start|>user\n\n# Question: Again?\n`)).toBe(true);
  d.acceptResponse(stop('<answer> B </answer>'));
  const many = Array.from({ length: 50 }, () => extra);
  expect(() => d.followUp({ images: many, question: 'cap' })).toThrow(/at most 50 images/);
});
