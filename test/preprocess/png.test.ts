// The in-code PNG decoder (the browser's path for 16-bit and alpha PNGs) and the tRNS/GIF-transparency strippers,
// run in Node: the golden PNGs it handles must hash to Pillow 9.4's bytes, and malformed files must end in
// ImageError (or an image), never another exception.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DecodeGoldenDoc } from '../../src/golden/decode-case.js';
import { ImageError } from '../../src/preprocess/errors.js';
import { withoutGifTransparency } from '../../src/preprocess/gif.js';
import { checkImage, toRgb } from '../../src/preprocess/image.js';
import { decodePng, readPngHeader, withoutPngTransparency } from '../../src/preprocess/png.js';
import { crc32 } from '../../src/util/crc32.js';
import { rng } from '../helpers/random.js';

const goldens = join(import.meta.dirname, '../fixtures/golden');
const cases = ['decode-a', 'decode-b'].flatMap((d) =>
  (JSON.parse(readFileSync(join(goldens, d, 'cases.json'), 'utf8')) as DecodeGoldenDoc).cases
    .filter((c) => c.file.endsWith('.png'))
    .map((c) => ({ ...c, bytes: readFileSync(join(goldens, d, c.file)) })));
const inCode = cases.filter((c) => {
  const h = readPngHeader(c.bytes)!;
  return h.bitDepth === 16 || h.colourType === 4 || h.colourType === 6;
});

async function outcome(bytes: Uint8Array): Promise<string> {
  try {
    checkImage(await decodePng(bytes, { maxPixels: 1 << 22 }));
    return 'ok';
  } catch (e) {
    if (e instanceof ImageError) return e.code;
    throw e;
  }
}

describe('in-code PNG decoder', () => {
  it('covers 16-bit grey/RGB/RGBA/grey+alpha, 8-bit LA and RGBA, interlaced and not', () => {
    expect(inCode.map((c) => c.file).sort()).toEqual(['gray16.png', 'gray_alpha.png', 'grey16_interlaced.png', 'grey_alpha16.png',
      'grey_alpha8_interlaced.png', 'rgb16.png', 'rgba.png', 'rgba16.png', 'rgba8_partial_alpha.png']);
  });

  it.each(inCode.map((c) => [c.file, c] as const))('%s matches Pillow 9.4', async (_, c) => {
    const img = await decodePng(c.bytes);
    expect([img.width, img.height]).toEqual([c.width, c.height]);
    expect(createHash('sha256').update(toRgb(img).data).digest('hex')).toBe(c.sha256_rgb);
  });

  it('refuses palettes and low bit depths (the browser reads those exactly)', async () => {
    const palette = cases.find((c) => c.file === 'palette_transparency.png')!;
    await expect(decodePng(palette.bytes)).rejects.toMatchObject({ name: 'ImageError', code: 'unsupported' });
  });

  it('every truncation, and random byte changes, give an image or an ImageError', async () => {
    const seen = new Set<string>();
    for (const c of inCode.slice(0, 4)) {
      for (let n = 0; n < c.bytes.length; n += 7) seen.add(await outcome(c.bytes.subarray(0, n)));
    }
    const next = rng(4242);
    for (let i = 0; i < 400; i++) {
      const c = inCode[i % inCode.length]!;
      const b = Uint8Array.from(c.bytes);
      const at = Math.floor(next() * b.length);
      b[at] = Math.floor(next() * 256);
      // Re-seal the chunk CRCs half of the time so the mutation reaches the header checks and the inflater.
      if (i % 2 === 0) resealCrcs(b);
      seen.add(await outcome(b));
    }
    expect(seen.has('decode')).toBe(true);
    expect([...seen].every((s) => ['ok', 'decode', 'unsupported', 'bad_size', 'too_large'].includes(s))).toBe(true);
  });

  it('an unknown row filter and a bad CRC are typed errors', async () => {
    const c = inCode.find((x) => x.file === 'rgb16.png')!;
    const bad = Uint8Array.from(c.bytes);
    bad[45] ^= 0xff; // inside IDAT's data
    await expect(decodePng(bad)).rejects.toThrow(/bad CRC in chunk "IDAT"/);
    // A 1x1 RGBA image whose only row says filter type 7.
    const chunk = (type: string, data: Uint8Array) => {
      const b = new Uint8Array(12 + data.length);
      const v = new DataView(b.buffer);
      v.setUint32(0, data.length);
      b.set(Buffer.from(type, 'latin1'), 4);
      b.set(data, 8);
      v.setUint32(8 + data.length, crc32(b, 4, 8 + data.length));
      return b;
    };
    const ihdr = Uint8Array.from([0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0]);
    const png = Buffer.concat([Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr),
      chunk('IDAT', deflateSync(Uint8Array.from([7, 1, 2, 3, 4]))), chunk('IEND', new Uint8Array(0))]);
    await expect(decodePng(png)).rejects.toMatchObject({ name: 'ImageError', code: 'decode', message: expect.stringMatching(/unknown row filter type 7/) });
    png[41] = 0; // the first byte of IDAT's zlib stream: no longer a zlib header (CRC resealed)
    resealCrcs(png);
    await expect(decodePng(png)).rejects.toMatchObject({ name: 'ImageError', code: 'decode', message: expect.stringMatching(/corrupt image data/) });
  });
});

/** Recomputes every chunk's CRC (for mutations that should get past the CRC check). */
function resealCrcs(b: Uint8Array): void {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 8; i + 12 <= b.length;) {
    const len = v.getUint32(i);
    if (i + 12 + len > b.length) return;
    v.setUint32(i + 8 + len, crc32(b, i + 4, i + 8 + len));
    i += 12 + len;
  }
}

describe('transparency the reference ignores', () => {
  it('tRNS chunks are cut out of a PNG, nothing else changes', () => {
    const c = cases.find((x) => x.file === 'rgb8_trns.png')!;
    const out = withoutPngTransparency(c.bytes);
    expect(out.length).toBe(c.bytes.length - 18); // 12 bytes of chunk frame + 6 of RGB tRNS
    expect(Buffer.from(out).includes('tRNS')).toBe(false);
    const plain = cases.find((x) => x.file === 'rgba.png')!;
    expect(withoutPngTransparency(plain.bytes)).toBe(plain.bytes);
  });

  it('a GIF loses its transparency flag only', () => {
    const gif = readFileSync(join(goldens, 'decode-b/transparent_index.gif'));
    const out = withoutGifTransparency(gif);
    const changed = [...out.keys()].filter((i) => out[i] !== gif[i]);
    expect(changed).toHaveLength(1);
    expect(gif[changed[0]! - 3]).toBe(0x21); // the Graphic Control Extension's packed byte
    expect(gif[changed[0]! - 2]).toBe(0xf9);
    expect(out[changed[0]!]).toBe(gif[changed[0]!]! & 0xfe);
    const opaque = readFileSync(join(goldens, 'decode-a/rgb.gif'));
    expect(withoutGifTransparency(opaque)).toBe(opaque);
    // Truncated GIFs are walked as far as they go, without throwing.
    for (let n = 0; n < gif.length; n++) withoutGifTransparency(gif.subarray(0, n));
  });
});
