// Image decoding parity with the reference (Pillow 9.4 + qwen_vl_utils' to_rgb) in Node: decode-a (13 kinds, from
// the shared goldens, unchanged) and decode-b (BMP layouts and CMYK JPEG variants, made by
// scripts/make-decode-goldens.py with Pillow 9.4). Every case's RGB bytes must hash to the golden's sha256_rgb.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runDecodeGolden } from '../../src/golden/decode.js';
import type { DecodeGoldenDoc } from '../../src/golden/decode-case.js';

describe.each(['decode-a', 'decode-b'])('golden %s (Node decoder)', (name) => {
  const dir = join(import.meta.dirname, '../fixtures/golden', name);
  const doc = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as DecodeGoldenDoc;
  let lines: string[] = [];
  beforeAll(async () => {
    lines = (await runDecodeGolden(dir)).lines;
  });

  it('reports one line per case, in order', () => {
    expect(lines.map((l) => l.split(' ')[1])).toEqual(doc.cases.map((c) => c.file));
  });

  it.each(doc.cases.map((c) => [c.file, c.pillow_mode] as const))('%s (Pillow mode %s) is byte-identical', (file) => {
    const line = lines.find((l) => l.split(' ')[1] === file);
    expect(line).toMatch(/^PASS /);
  });
});
