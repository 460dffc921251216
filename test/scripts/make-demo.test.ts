import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractAnswer } from '../../src/chat/driver.js';
import { parseToolCall, validateToolCall } from '../../src/chat/tool-call.js';
import { planCrop, type Box } from '../../src/chat/zoom.js';
import { validateCheckpoint } from '../../src/model/manifest.js';
import { loadTokenizerDir } from '../../src/platform/node-tokenizer.js';
import { openCheckpointDir } from '../../src/platform/node-file.js';
import { MAX_PIXELS_TOTAL, MIN_PIXELS, smartResize } from '../../src/preprocess/smart-resize.js';
import { QWEN25_VL_CHAT_TEMPLATE } from '../../src/text/chat-template.js';
import { deriveInquiryTokenizerJson, tokenizeInquiry } from '../../src/text/inquiry-tokenizer.js';
import type { TextAssets } from '../../src/text/tokenizer-files.js';
import { TextTokenizer } from '../../src/text/tokenizer.js';
import { makeDemo, SIGN_BOARD, SIGN_SHAPES, type MakeDemoResult } from '../../scripts/make-demo.js';

// One generation for the whole file: the checkpoint has the real 151936-row vocabulary (~49 MB of bf16).
let dir: string;
let first: MakeDemoResult;
let text: TextAssets;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vilavt-demo-'));
  first = await makeDemo(dir);
  text = await loadTokenizerDir(join(dir, 'checkpoint'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('make-demo', () => {
  it('is idempotent: a second run with the same inputs writes nothing', async () => {
    expect(first.skipped).toBe(false);
    const mtime = statSync(join(dir, 'checkpoint', 'model.safetensors')).mtimeMs;
    const again = await makeDemo(dir);
    expect(again.skipped).toBe(true);
    expect(again.files).toEqual(first.files);
    expect(statSync(join(dir, 'checkpoint', 'model.safetensors')).mtimeMs).toBe(mtime);
  });

  it('writes a checkpoint that opens and validates, with the real Qwen2.5 special-token ids', async () => {
    const ckpt = await openCheckpointDir(join(dir, 'checkpoint'));
    expect(() => validateCheckpoint(ckpt, ckpt.config)).not.toThrow();
    const { llm, textEncoder } = ckpt.config;
    expect(llm.vocab).toBe(151936);
    expect(llm).toMatchObject({ imageTokenId: 151655, visionStartTokenId: 151652, visionEndTokenId: 151653, bosTokenId: 151643, eosTokenIds: [151645] });
    expect(textEncoder?.vocab).toBe(151669);
    expect([...ckpt.generation.eosTokenIds].sort()).toEqual([151643, 151645]);
    expect([...ckpt.tensors.values()].every((t) => t.info.dtype === 'BF16')).toBe(true);
    // The tokenizer and the model agree on the ids.
    const s = text.tokenizer.specialIds;
    expect([s.imagePad, s.visionStart, s.visionEnd, s.endOfText, s.imEnd]).toEqual([151655, 151652, 151653, 151643, 151645]);
    expect(text.tokenizer.size).toBeLessThanOrEqual(llm.vocab);
  });

  it('ships a Qwen2.5 tokenizer: <tool_response> and <think> are plain text', () => {
    const tok = text.tokenizer;
    expect(tok.size).toBe(151665);
    for (const tag of ['<tool_response>', '</tool_response>', '<think>', '</think>']) {
      const ids = tok.encode(tag);
      expect(ids.length, tag).toBeGreaterThan(1);
      expect(Math.max(...ids), tag).toBeLessThan(151643);
      expect(tok.decode(ids)).toBe(tag);
    }
    expect(text.chatTemplate.source).toBe('tokenizer_config.json');
    expect(text.chatTemplate.text).toBe(QWEN25_VL_CHAT_TEMPLATE);
  });

  it('ships the inquiry tokenizer (Qwen3 vocabulary + appended <|endoftext|>), equal to the derived fallback', async () => {
    expect(text.inquirySource).toBe('inquiry_tokenizer.json');
    expect(tokenizeInquiry(text.inquiry, '<think>').ids.slice(0, 2)).toEqual([151667, 151643]);
    const q25 = JSON.parse(await readFile(join(dir, 'checkpoint', 'tokenizer.json'), 'utf8'));
    const derived = new TextTokenizer(deriveInquiryTokenizerJson(q25), { pad_token: '<|endoftext|>' });
    for (const q of ['', 'the shapes on the sign board', '标志上的形状', 'a <think> b']) {
      expect(tokenizeInquiry(derived, q), q).toEqual(tokenizeInquiry(text.inquiry, q));
    }
  });

  it('draws the sample: 640x480 RGB with red circle, blue square, green triangle on the sign', async () => {
    const { data, info } = await sharp(join(dir, 'sample.png')).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([640, 480, 3]);
    const px = (x: number, y: number) => [...data.subarray((y * 640 + x) * 3, (y * 640 + x) * 3 + 3)];
    const want = { red: [255, 0, 0], blue: [0, 0, 255], green: [0, 128, 0] };
    for (const s of SIGN_SHAPES) expect(px(s.cx, s.cy + 2), s.kind).toEqual(want[s.color]);
    expect(px(SIGN_BOARD.x + 8, SIGN_BOARD.y + 8)).toEqual([250, 250, 250]); // the board
  });

  it('replays two valid zoom-ins (the sign, then the circle inside crop 1) and an answer', async () => {
    const replay = JSON.parse(await readFile(join(dir, 'replay.json'), 'utf8')) as { question: string; assistant_turns: string[] };
    expect(replay.assistant_turns).toHaveLength(3);
    const budget = { minPixels: MIN_PIXELS, maxPixels: MAX_PIXELS_TOTAL };
    const [h0, w0] = smartResize(480, 640, budget);
    const images = [{ width: w0, height: h0, region: [0, 0, 1, 1] as Box, originalWidth: 640, originalHeight: 480 }];
    const regions: Box[] = [];
    for (const turn of replay.assistant_turns.slice(0, 2)) {
      const parsed = parseToolCall(turn);
      expect(parsed.kind).toBe('parsed');
      if (parsed.kind !== 'parsed') return;
      const v = validateToolCall(parsed.args, images, (r) => planCrop(images[r.index]!, r.bbox, budget));
      expect(v.ok, JSON.stringify(v)).toBe(true);
      if (!v.ok) return;
      expect(v.regions).toHaveLength(1);
      const plan = v.regions[0]!.plan;
      expect(v.regions[0]!.index).toBe(images.length - 1); // turn 0 zooms image 0, turn 1 the crop (index 1)
      regions.push(plan.region);
      images.push({ width: plan.processedWidth, height: plan.processedHeight, region: plan.region, originalWidth: 640, originalHeight: 480 });
    }
    // Crop 1 holds the whole sign board; crop 2 holds the circle, not the square.
    const [a, b] = regions as [Box, Box];
    const inside = (r: Box, x: number, y: number) => r[0] * 640 <= x && x <= r[2] * 640 && r[1] * 480 <= y && y <= r[3] * 480;
    expect(inside(a, SIGN_BOARD.x, SIGN_BOARD.y) && inside(a, SIGN_BOARD.x + SIGN_BOARD.w, SIGN_BOARD.y + SIGN_BOARD.h)).toBe(true);
    expect(inside(b, SIGN_SHAPES[0].cx, SIGN_SHAPES[0].cy)).toBe(true);
    expect(inside(b, SIGN_SHAPES[1].cx, SIGN_SHAPES[1].cy)).toBe(false);
    expect(extractAnswer(replay.assistant_turns[2]!)).toBe('circle');
    expect(parseToolCall(replay.assistant_turns[2]!).kind).toBe('parsed');
  });
});
