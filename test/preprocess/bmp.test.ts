// The BMP decoder on malformed input: a typed ImageError (with the right code) or a well-formed image, never another
// exception and never a huge allocation. Correct decoding itself is held to Pillow 9.4 by the decode-a/decode-b
// goldens (test/golden/decode.test.ts).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeBmp } from '../../src/preprocess/bmp.js';
import { ImageError } from '../../src/preprocess/errors.js';
import { checkImage } from '../../src/preprocess/image.js';
import { decodeImageBuffer } from '../../src/platform/node-image.js';
import { rng } from '../helpers/random.js';

const goldens = join(import.meta.dirname, '../fixtures/golden');
const fixtures = ['decode-a', 'decode-b'].flatMap((d) =>
  readdirSync(join(goldens, d)).filter((f) => f.endsWith('.bmp')).map((f) => ({ name: `${d}/${f}`, bytes: readFileSync(join(goldens, d, f)) })));

/** Decodes, and returns the error code, or 'ok' for an image whose fields are consistent. */
function outcome(bytes: Uint8Array, maxPixels?: number): string {
  try {
    const img = decodeBmp(bytes, { maxPixels });
    checkImage(img);
    return 'ok';
  } catch (e) {
    if (e instanceof ImageError) return e.code;
    throw e; // anything else fails the test
  }
}

/** A 40-byte-header BMP around `pixels`, with header fields overridden at their absolute offsets. */
function bmp40(fields: { width?: number; height?: number; bits?: number; compression?: number; colours?: number } = {}, pixels = new Uint8Array(16)): Uint8Array {
  const b = new Uint8Array(54 + pixels.length);
  const v = new DataView(b.buffer);
  b[0] = 0x42; b[1] = 0x4d;
  v.setUint32(2, b.length, true);
  v.setUint32(10, 54, true);
  v.setUint32(14, 40, true);
  v.setInt32(18, fields.width ?? 2, true);
  v.setInt32(22, fields.height ?? 2, true);
  v.setUint16(26, 1, true);
  v.setUint16(28, fields.bits ?? 24, true);
  v.setUint32(30, fields.compression ?? 0, true);
  v.setUint32(46, fields.colours ?? 0, true);
  b.set(pixels, 54);
  return b;
}

describe('BMP decoder: malformed input', () => {
  it('has BMP fixtures of many layouts to mutate', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(15);
  });

  it('a well-formed 2x2 24-bit file decodes (the base of the cases below)', () => {
    const img = decodeBmp(bmp40({}, Uint8Array.from([1, 2, 3, 4, 5, 6, 0, 0, 7, 8, 9, 10, 11, 12, 0, 0])));
    // Bottom-up BGR: the first stored row is the bottom one.
    expect(Array.from(img.data)).toEqual([9, 8, 7, 12, 11, 10, 3, 2, 1, 6, 5, 4]);
  });

  it.each<[string, string, RegExp, Uint8Array]>([
    ['not a BMP', 'decode', /no "BM" signature/, Uint8Array.from([0x89, 0x50, 0x4e, 0x47])],
    ['ends inside the file header', 'decode', /file header/, Uint8Array.from([0x42, 0x4d, 1, 2, 3])],
    ['ends inside the info header', 'decode', /info header/, bmp40().subarray(0, 30)],
    ['an unknown header size', 'unsupported', /header type of 52/, (() => { const b = bmp40(); b[14] = 52; return b; })()],
    ['zero width', 'bad_size', /empty/, bmp40({ width: 0 })],
    ['2-bit pixels', 'unsupported', /depth of 2 bits/, bmp40({ bits: 2 })],
    ['JPEG compression', 'unsupported', /compression type 4/, bmp40({ compression: 4 })],
    ['RLE on 24-bit pixels', 'unsupported', /RLE compression of 24-bit/, bmp40({ compression: 1 })],
    ['bitfields with unknown masks', 'unsupported', /bitfields layout/, bmp40({ bits: 32, compression: 3 }, Uint8Array.from([1, 0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0]))],
    ['a 300-colour palette', 'unsupported', /300 colours/, bmp40({ bits: 8, colours: 300 })],
    ['a palette past the end of the file', 'decode', /inside its palette/, bmp40({ bits: 8, colours: 200 })],
    ['pixel data cut short', 'decode', /truncated/, bmp40({ width: 4, height: 4 })],
    ['an RLE stream that stops early', 'decode', /not enough image data/, bmp40({ bits: 8, compression: 1, colours: 1 }, Uint8Array.from([0, 0, 0, 0, 2, 5, 0, 1]))],
  ])('%s: ImageError %s', (_, code, message, bytes) => {
    expect(() => decodeBmp(bytes)).toThrow(message);
    expect(outcome(bytes)).toBe(code);
  });

  it('refuses huge sizes from the header alone (Pillow\'s bomb limit by default, or the caller\'s)', () => {
    expect(outcome(bmp40({ width: 100_000, height: 100_000 }))).toBe('too_large');
    expect(outcome(bmp40({ width: 0x7fffffff, height: -0x7fffffff }))).toBe('too_large');
    expect(outcome(bmp40({ width: 4, height: 4 }, new Uint8Array(64)), 15)).toBe('too_large');
  });

  it('the Node decoder reads BMP through it, with the caller\'s pixel limit', async () => {
    const big = bmp40({ width: 4, height: 4 }, new Uint8Array(64));
    expect((await decodeImageBuffer(big)).channels).toBe(3);
    await expect(decodeImageBuffer(big, { maxPixels: 15 })).rejects.toMatchObject({ name: 'ImageError', code: 'too_large' });
  });

  it('every truncation of every fixture gives an image or an ImageError', () => {
    const seen = new Set<string>();
    for (const f of fixtures) {
      for (let n = 0; n < f.bytes.length; n++) seen.add(outcome(f.bytes.subarray(0, n)));
    }
    // 'ok' too: a file cut inside its last row's padding is complete for Pillow.
    expect([...seen].sort()).toEqual(['decode', 'ok']);
  });

  it('random byte changes in the headers and data give an image or an ImageError', () => {
    const next = rng(1207);
    let typed = 0;
    for (let i = 0; i < 3000; i++) {
      const f = fixtures[i % fixtures.length]!;
      const b = Uint8Array.from(f.bytes);
      const edits = 1 + Math.floor(next() * 4);
      for (let k = 0; k < edits; k++) {
        // Mostly the 14 + 40..124 header bytes, where the layout is decided; sometimes anywhere.
        const at = next() < 0.8 ? Math.floor(next() * Math.min(b.length, 140)) : Math.floor(next() * b.length);
        b[at] = next() < 0.3 ? [0, 0xff, 1, 0x80][Math.floor(next() * 4)]! : Math.floor(next() * 256);
      }
      const r = outcome(b, 1 << 22);
      if (r !== 'ok') typed++;
    }
    expect(typed).toBeGreaterThan(100); // the mutations did reach the checks
  });
});
