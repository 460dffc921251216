// The in-code JPEG decoder (the browser's path for CMYK JPEGs), run in Node: the golden CMYK and grey JPEGs must give
// Pillow 9.4's bytes (libjpeg-turbo's samples: Huffman baseline/progressive, restarts, islow IDCT), other layouts are
// 'unsupported', and damaged files end in ImageError (or an image), never another exception.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DecodeGoldenDoc } from '../../src/golden/decode-case.js';
import { cmykToRgb } from '../../src/preprocess/cmyk.js';
import { ImageError } from '../../src/preprocess/errors.js';
import { toRgb } from '../../src/preprocess/image.js';
import { decodeJpegSamples, readJpegFrame } from '../../src/preprocess/jpeg.js';
import { rng } from '../helpers/random.js';

const goldens = join(import.meta.dirname, '../fixtures/golden');
const jpegs = ['decode-a', 'decode-b'].flatMap((d) =>
  (JSON.parse(readFileSync(join(goldens, d, 'cases.json'), 'utf8')) as DecodeGoldenDoc).cases
    .filter((c) => c.file.endsWith('.jpg'))
    .map((c) => ({ ...c, bytes: readFileSync(join(goldens, d, c.file)) })));
const cmyk = jpegs.filter((c) => c.pillow_mode === 'CMYK');

/** libjpeg's samples -> what the reference sees: CMYK inverted (Pillow's "CMYK;I") and cmyk2rgb, or L as grey. */
function pillowRgb(bytes: Uint8Array): Uint8Array {
  const s = decodeJpegSamples(bytes);
  const n = s.width * s.height;
  if (s.planes.length === 1) return toRgb({ width: s.width, height: s.height, channels: 1, data: s.planes[0]! }).data;
  const data = new Uint8Array(n * 4);
  for (let k = 0; k < 4; k++) for (let i = 0; i < n; i++) data[i * 4 + k] = s.planes[k]![i]!;
  return cmykToRgb(data, s.width, s.height, true).data;
}

function outcome(bytes: Uint8Array): string {
  try {
    decodeJpegSamples(bytes, { maxPixels: 1 << 20 });
    return 'ok';
  } catch (e) {
    if (e instanceof ImageError) return e.code;
    throw e;
  }
}

describe('in-code JPEG decoder', () => {
  it('has CMYK cases: baseline, progressive, restart markers (both), optimized tables, no Adobe marker', () => {
    expect(cmyk.map((c) => c.file).sort()).toEqual(['cmyk_no_adobe_marker.jpg', 'cmyk_optimized.jpg', 'cmyk_progressive.jpg',
      'cmyk_progressive_restart.jpg', 'cmyk_q90.jpg', 'cmyk_restart.jpg']);
  });

  it.each([...cmyk, jpegs.find((c) => c.file === 'gray_q85.jpg')!].map((c) => [c.file, c] as const))('%s matches Pillow 9.4', (_, c) => {
    expect(createHash('sha256').update(pillowRgb(c.bytes)).digest('hex')).toBe(c.sha256_rgb);
  });

  it('reads the frame header without decoding', () => {
    expect(readJpegFrame(cmyk.find((c) => c.file === 'cmyk_q90.jpg')!.bytes)).toEqual({ components: 4, adobeTransform: 0 });
    expect(readJpegFrame(cmyk.find((c) => c.file === 'cmyk_no_adobe_marker.jpg')!.bytes)).toEqual({ components: 4, adobeTransform: null });
    expect(readJpegFrame(Uint8Array.from([0x89, 0x50, 0x4e, 0x47]))).toBeNull();
  });

  it('leaves subsampled JPEGs to the platform (unsupported)', () => {
    const c = jpegs.find((x) => x.file === 'rgb_q90_420.jpg')!;
    expect(() => decodeJpegSamples(c.bytes)).toThrow(expect.objectContaining({ name: 'ImageError', code: 'unsupported' }));
  });

  it('a size the file cannot hold is refused before allocating', () => {
    const b = Uint8Array.from(cmyk.find((c) => c.file === 'cmyk_q90.jpg')!.bytes);
    const sof = b.findIndex((v, i) => v === 0xff && b[i + 1] === 0xc0);
    b[sof + 5] = 0x7f; b[sof + 7] = 0x7f; // 32k x 32k
    expect(outcome(b)).toBe('too_large');
    b[sof + 5] = 0x0f; b[sof + 7] = 0x0f; // 3.9k x 3.9k in 6.7 kB
    expect(() => decodeJpegSamples(b)).toThrow(/cannot fit/);
  });

  it('every truncation, and random byte changes, give an image or an ImageError', () => {
    const seen = new Set<string>();
    for (const c of cmyk.filter((x) => x.width < 50)) {
      for (let n = 0; n < c.bytes.length; n += 5) seen.add(outcome(c.bytes.subarray(0, n)));
    }
    expect(seen.has('decode')).toBe(true);
    const next = rng(777);
    for (let i = 0; i < 300; i++) {
      const c = cmyk[i % cmyk.length]!;
      const b = Uint8Array.from(c.bytes);
      for (let k = 0; k < 1 + (i % 3); k++) b[Math.floor(next() * Math.min(b.length, i % 2 ? b.length : 700))] = Math.floor(next() * 256);
      seen.add(outcome(b));
    }
    expect([...seen].every((s) => ['ok', 'decode', 'unsupported', 'too_large'].includes(s)), [...seen].join()).toBe(true);
  });
});
