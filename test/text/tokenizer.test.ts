import { describe, expect, it } from 'vitest';
import { MissingSpecialTokenError, TokenizerError } from '../../src/text/errors.js';
import { TextTokenizer } from '../../src/text/tokenizer.js';
import { qwen25Tokenizer, qwen3Config, qwen3Json } from './qwen-files.js';

const tok = qwen25Tokenizer();

describe('TextTokenizer (real Qwen2.5 vocabulary)', () => {
  it('matches the reference encodings of docs/setup-notes §5 (measured with three libraries)', () => {
    expect(tok.encode('Hello, world! 你好')).toEqual([9707, 11, 1879, 0, 220, 108386]);
    const chat = '<|im_start|>user\n<|vision_start|><|image_pad|><|image_pad|><|vision_end|>Describe.<|im_end|>\n<|im_start|>assistant\n';
    expect(tok.encode(chat)).toEqual([151644, 872, 198, 151652, 151655, 151655, 151653, 74785, 13, 151645, 198, 151644, 77091, 198]);
  });

  it('adds no BOS/EOS and knows the Qwen2.5-VL special ids (MODEL.md §1.4)', () => {
    expect(tok.encode('')).toEqual([]);
    expect(tok.encode('a')).toHaveLength(1);
    expect(tok.specialIds).toEqual({
      endOfText: 151643, imStart: 151644, imEnd: 151645, visionStart: 151652, visionEnd: 151653, imagePad: 151655, videoPad: 151656,
    });
    expect(tok.padId).toBe(151643);
    expect(tok.eosId).toBe(151645);
    expect(tok.size).toBe(151665); // MODEL.md §1.4: "tokenizer has 151665 ids"
    expect(tok.tokenToId('<tool_call>')).toBe(151657);
    expect(tok.idToToken(151655)).toBe('<|image_pad|>');
    expect(tok.tokenToId('<think>')).toBeUndefined();
  });

  it('treats the ViLaVT tags as ordinary text (MODEL.md §6.3)', () => {
    for (const tag of ['<tool>', '</tool>', '<think>', '<answer>', '<tool_response>', '</tool_response>']) {
      const ids = tok.encode(tag);
      expect(ids.length, tag).toBeGreaterThan(1);
      expect(ids.every((id) => id < 151643), tag).toBe(true);
    }
  });

  const samples = [
    'Hello, world! 你好',
    '我爱北京天安门，今天天气很好。',
    'emoji 🎉👨‍👩‍👧 and ẞ, café, naïve',
    '<think> look at the sign </think>\n<tool> {"region": [{"index": 0, "bbox_2d": [1, 2, 3, 4]}], "query": "红色"} </tool>',
    '  leading spaces\n\n\ttabs\r\nCRLF',
    '\uFEFFusing namespace std; // BOM-led token',
  ];

  it('round-trips text through encode/decode', () => {
    for (const s of samples) expect(tok.decode(tok.encode(s))).toBe(s);
  });

  it('decode skips special tokens on request and drops ids beyond the vocabulary (as HF does)', () => {
    const ids = [151644, ...tok.encode('assistant\nhi'), 151645];
    expect(tok.decode(ids)).toBe('<|im_start|>assistant\nhi<|im_end|>');
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe('assistant\nhi');
    // 151665..151935 are padding rows of the LLM's embedding: no text.
    expect(tok.decode([...tok.encode('a'), 151700, ...tok.encode('b')])).toBe('ab');
  });

  it('rejects invalid ids with a typed error', () => {
    expect(() => tok.decode([-1])).toThrow(TokenizerError);
    expect(() => tok.decode([1.5])).toThrow(TokenizerError);
    expect(() => tok.tokenBytes(Number.NaN)).toThrow(TokenizerError);
  });

  it('streams only complete characters across multi-byte UTF-8 boundaries', () => {
    for (const s of samples) {
      const ids = tok.encode(s);
      const stream = tok.decodeStream();
      let out = '';
      for (const id of ids) {
        const piece = stream.push(id);
        expect(piece).not.toContain('\uFFFD');
        out += piece;
        expect(s.startsWith(out), `${JSON.stringify(out)} is a prefix of ${JSON.stringify(s)}`).toBe(true);
      }
      out += stream.flush();
      expect(out).toBe(s);
    }
  });

  it('holds back a split character until its last byte arrives', () => {
    // In this vocabulary the ZWJ (U+200D = e2 80 8d) of a family emoji is split over two byte-level tokens.
    const ids = tok.encode('👨‍👩');
    expect(ids.map((id) => [...tok.tokenBytes(id)])).toEqual([[0xf0, 0x9f, 0x91, 0xa8], [0xe2, 0x80], [0x8d], [0xf0, 0x9f, 0x91, 0xa9]]);
    const stream = tok.decodeStream();
    expect(ids.map((id) => stream.push(id))).toEqual(['👨', '', '\u200d', '👩']);
    expect(stream.flush()).toBe('');
  });

  it('stream with skipSpecialTokens equals decode with skip_special_tokens', () => {
    const ids = [151644, ...tok.encode('assistant\n你好 🎉'), 151645];
    const stream = tok.decodeStream({ skipSpecialTokens: true });
    const out = ids.map((id) => stream.push(id)).join('') + stream.flush();
    expect(out).toBe(tok.decode(ids, { skipSpecialTokens: true }));
  });

  it('an incomplete character at the end of the stream becomes U+FFFD on flush', () => {
    const [first] = tok.encode('\u200d'); // bytes e2 80 of e2 80 8d
    const stream = tok.decodeStream();
    expect(stream.push(first!)).toBe('');
    expect(stream.flush()).toBe('\uFFFD');
  });

  it('names a missing special token', () => {
    const json = { ...qwen3Json, added_tokens: (qwen3Json.added_tokens as { content: string }[]).filter((t) => t.content !== '<|im_end|>') };
    const broken = new TextTokenizer(json, qwen3Config, 'broken.json');
    expect(() => broken.specialIds).toThrow(MissingSpecialTokenError);
    expect(() => broken.specialIds).toThrow(/"<\|im_end\|>".*broken\.json/);
    expect(() => new TextTokenizer(json, { ...qwen3Config, pad_token: null }).padId).toThrow(MissingSpecialTokenError);
  });

  it('rejects files that are not BPE tokenizer.json', () => {
    expect(() => new TextTokenizer({ model: { type: 'WordPiece', vocab: {} } })).toThrow(TokenizerError);
    expect(() => new TextTokenizer({})).toThrow(/no "model"/);
  });
});
