import { describe, expect, it } from 'vitest';
import { TokenizerError } from '../../src/text/errors.js';
import {
  deriveInquiryTokenizerJson,
  INQUIRY_TOKENIZER_FILE,
  qwen3EmbeddingPostProcessor,
  tokenizeInquiry,
  validInquiryIds,
} from '../../src/text/inquiry-tokenizer.js';
import { loadTextAssets } from '../../src/text/tokenizer-files.js';
import { TextTokenizer } from '../../src/text/tokenizer.js';
import { qwen25TokenizerJson } from '../../scripts/make-demo.js';
import { qwen25Tokenizer, qwen3Config, qwen3Json } from './qwen-files.js';

const EOT = 151643;
// Qwen3-Embedding's tokenizer as reconstructed from the real Qwen3 file: same vocabulary and added tokens,
// TemplateProcessing `$A <|endoftext|>`.
const inquiry = new TextTokenizer({ ...qwen3Json, post_processor: qwen3EmbeddingPostProcessor(EOT) }, qwen3Config, 'qwen3-embedding');
// The engine's fallback when the checkpoint has no inquiry_tokenizer.json: derived from the Qwen2.5 file.
const derived = new TextTokenizer(deriveInquiryTokenizerJson(qwen25TokenizerJson(qwen3Json)), { pad_token: '<|endoftext|>' }, 'derived');

const LONG = 'Look carefully at the small red sign next to the door and read every word printed on it, including the tiny line at the bottom, then compare its colours with the car parked across the street, the awning of the bakery on the corner and the flowers in the window box above it.';

describe('tokenizeInquiry (MODEL.md §4)', () => {
  it('appends <|endoftext|> with an all-ones mask (MODEL.md §4: tok("a b") ends with 151643)', () => {
    const r = tokenizeInquiry(inquiry, 'a b', { padTo: 3 });
    expect(r.ids).toEqual([...inquiry.encode('a b'), EOT]);
    expect(r.ids).toHaveLength(3);
    expect(r.mask).toEqual([1, 1, 1]);
    expect(r.validLength).toBe(3);
  });

  it('pads on the right to max_length 50 with the pad id and mask 0', () => {
    const r = tokenizeInquiry(inquiry, 'a b');
    expect(r.ids).toHaveLength(50);
    expect(r.ids.slice(0, 3)).toEqual([...inquiry.encode('a b'), EOT]);
    expect(r.ids.slice(3)).toEqual(Array(47).fill(EOT));
    expect(r.mask).toEqual([1, 1, 1, ...Array(47).fill(0)]);
    expect(validInquiryIds(inquiry, 'a b')).toEqual([...inquiry.encode('a b'), EOT]);
  });

  it('truncates to 49 text tokens + <|endoftext|> (HF truncates before the post-processor)', () => {
    const text = inquiry.encode(LONG);
    expect(text.length).toBeGreaterThan(50);
    const r = tokenizeInquiry(inquiry, LONG);
    expect(r.ids).toEqual([...text.slice(0, 49), EOT]);
    expect(r.mask).toEqual(Array(50).fill(1));
    expect(r.validLength).toBe(50);
  });

  it('keeps exactly 49 text tokens untruncated and cuts the 50th', () => {
    const text = inquiry.encode(LONG);
    const q49 = inquiry.decode(text.slice(0, 49));
    const q50 = inquiry.decode(text.slice(0, 50));
    expect(inquiry.encode(q49)).toEqual(text.slice(0, 49)); // the prefix re-encodes to itself
    expect(tokenizeInquiry(inquiry, q49).ids).toEqual([...text.slice(0, 49), EOT]);
    expect(tokenizeInquiry(inquiry, q50).ids).toEqual([...text.slice(0, 49), EOT]);
    expect(tokenizeInquiry(inquiry, LONG, { maxLength: 10 }).ids).toEqual([...text.slice(0, 9), EOT]);
  });

  it('gives "" an all-zero mask: the empty-query fix (zero text keys)', () => {
    const r = tokenizeInquiry(inquiry, '');
    expect(r.ids).toEqual(Array(50).fill(EOT));
    expect(r.mask).toEqual(Array(50).fill(0));
    expect(r.validLength).toBe(0);
    expect(validInquiryIds(inquiry, '')).toEqual([]);
    // The fix looks at ids, not text: a query that is only the pad token is masked out too (reference quirk).
    expect(tokenizeInquiry(inquiry, '<|endoftext|>').validLength).toBe(0);
    // ... while a query merely containing it is not.
    expect(tokenizeInquiry(inquiry, 'x<|endoftext|>').validLength).toBe(3);
  });

  it('pads to padTo (HF padding=longest) and rejects a padTo shorter than the row', () => {
    expect(tokenizeInquiry(inquiry, 'a b', { padTo: 5 }).mask).toEqual([1, 1, 1, 0, 0]);
    expect(tokenizeInquiry(inquiry, '', { padTo: 1 })).toEqual({ ids: [EOT], mask: [0], validLength: 0 });
    expect(() => tokenizeInquiry(inquiry, 'a b', { padTo: 2 })).toThrow(TokenizerError);
    expect(() => tokenizeInquiry(inquiry, 'a b', { maxLength: 1 })).toThrow(/maxLength/);
  });

  it('the fallback derived from the Qwen2.5 tokenizer gives the same ids as the Qwen3-Embedding tokenizer', () => {
    const queries = ['', 'a b', 'the red button', '红色的按钮在哪里？', 'emoji 🎉 café', LONG, '<think> text </think> and <tool_response>', 'tab\tnew\nline'];
    for (const q of queries) {
      expect(tokenizeInquiry(derived, q), q).toEqual(tokenizeInquiry(inquiry, q));
    }
    // Why the derivation adds the Qwen3 tokens: the plain Qwen2.5 tokenizer splits <think> into text pieces.
    const plain = qwen25Tokenizer();
    expect(tokenizeInquiry(plain, 'the red button')).toEqual(tokenizeInquiry(inquiry, 'the red button'));
    expect(tokenizeInquiry(plain, '<think>').ids[0]).not.toBe(151667);
    expect(tokenizeInquiry(inquiry, '<think>').ids.slice(0, 2)).toEqual([151667, EOT]);
  });

  it('deriveInquiryTokenizerJson refuses conflicting ids', () => {
    const json = qwen25TokenizerJson(qwen3Json);
    const clash = { ...json, added_tokens: [...(json.added_tokens as object[]), { id: 151665, content: '<other>', special: false }] };
    expect(() => deriveInquiryTokenizerJson(clash)).toThrow(/151665/);
    expect(() => deriveInquiryTokenizerJson({})).toThrow(TokenizerError);
  });

  it('loadTextAssets prefers inquiry_tokenizer.json and otherwise derives it', async () => {
    const q25 = JSON.stringify(qwen25TokenizerJson(qwen3Json));
    const files = new Map<string, string>([['tokenizer.json', q25], ['tokenizer_config.json', JSON.stringify({ pad_token: '<|endoftext|>', eos_token: '<|im_end|>' })]]);
    const read = async (n: string) => files.get(n) ?? null;
    const a = await loadTextAssets(read);
    expect(a.inquirySource).toBe('derived from tokenizer.json');
    expect(a.chatTemplate.source).toBe('builtin');
    expect(tokenizeInquiry(a.inquiry, '<think>').ids.slice(0, 2)).toEqual([151667, EOT]);
    // A deliberately different inquiry file (no post-processor template -> plain $A <|endoftext|>) is the one used.
    files.set(INQUIRY_TOKENIZER_FILE, q25);
    const b = await loadTextAssets(read);
    expect(b.inquirySource).toBe(INQUIRY_TOKENIZER_FILE);
    expect(tokenizeInquiry(b.inquiry, '<think>').ids[0]).not.toBe(151667);
  });
});
