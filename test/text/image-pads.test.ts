import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ImagePadMismatchError } from '../../src/text/errors.js';
import { expandImagePads } from '../../src/text/image-pads.js';
import { qwen25Tokenizer } from './qwen-files.js';

const PAD = 151655;

describe('expandImagePads', () => {
  it('repeats the k-th placeholder counts[k] times, in order', () => {
    expect(expandImagePads([1, PAD, 2, PAD, 3], PAD, [2, 3])).toEqual([1, PAD, PAD, 2, PAD, PAD, PAD, 3]);
    expect(expandImagePads([1, 2], PAD, [])).toEqual([1, 2]);
  });

  it('expands a tokenized golden prompt to the golden pad-token totals', () => {
    const golden = JSON.parse(readFileSync(new URL('../fixtures/golden/loop-a/cases.json', import.meta.url), 'utf8'));
    const call = golden.trajectories[1].expected.calls[1]; // two initial images + two crops
    const tok = qwen25Tokenizer();
    const ids = tok.encode(call.prompt as string);
    const counts = call.image_pad_tokens as number[];
    expect(counts).toHaveLength(4);
    const out = expandImagePads(ids, PAD, counts);
    expect(out.filter((id) => id === PAD)).toHaveLength(call.image_pad_tokens_total);
    expect(out.length - ids.length).toBe(call.image_pad_tokens_total - counts.length);
    // Each <|vision_start|> is followed by exactly that image's pad run, then <|vision_end|>.
    const starts = out.flatMap((id, i) => (id === 151652 ? [i] : []));
    expect(starts).toHaveLength(4);
    starts.forEach((s, k) => {
      expect(out.slice(s + 1, s + 1 + counts[k]!).every((id) => id === PAD)).toBe(true);
      expect(out[s + 1 + counts[k]!]).toBe(151653);
    });
  });

  it('rejects a count/placeholder mismatch or a bad count', () => {
    expect(() => expandImagePads([PAD, PAD], PAD, [4])).toThrow(ImagePadMismatchError);
    expect(() => expandImagePads([PAD], PAD, [4, 4])).toThrow(/1 image placeholder\(s\).*2 image\(s\)/);
    expect(() => expandImagePads([PAD], PAD, [0])).toThrow(ImagePadMismatchError);
    expect(() => expandImagePads([PAD], PAD, [2.5])).toThrow(ImagePadMismatchError);
  });
});
