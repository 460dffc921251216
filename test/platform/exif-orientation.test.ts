// withoutExifOrientation: the orientation tag of JPEG / PNG / WebP files set to 1 (checked by reading it back with
// sharp, which also validates the PNG chunk CRC), pixels untouched, other files returned as they are.
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { withoutExifOrientation } from '../../src/platform/exif-orientation.js';
import { rng } from '../helpers/random.js';

const W = 7;
const H = 5;
const next = rng(5);
const pixels = Buffer.from(Uint8Array.from({ length: W * H * 3 }, () => Math.floor(next() * 256)));
const raw = () => sharp(pixels, { raw: { width: W, height: H, channels: 3 } });
const storedPixels = async (b: Uint8Array) => (await sharp(b).raw().toBuffer({ resolveWithObject: true })); // no autoOrient

/** An APP1 "Exif" segment with a big-endian ("MM") TIFF whose IFD0 holds only Orientation = `o`. */
function bigEndianExifApp1(o: number): Uint8Array {
  const tiff = [0x4d, 0x4d, 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, o, 0, 0, 0, 0, 0, 0, 0, 0];
  const body = [...'Exif\0\0'].map((c) => c.charCodeAt(0)).concat(tiff);
  const len = body.length + 2;
  return Uint8Array.from([0xff, 0xe1, len >> 8, len & 0xff, ...body]);
}

describe('withoutExifOrientation', () => {
  for (const format of ['jpeg', 'png', 'webp'] as const) {
    it(`${format}: orientation 6 becomes 1, everything else unchanged`, async () => {
      const file = await raw().toFormat(format, format === 'webp' ? { lossless: true } : {}).withMetadata({ orientation: 6 }).toBuffer();
      expect((await sharp(file).metadata()).orientation).toBe(6);
      const out = withoutExifOrientation(file);
      expect(out.length).toBe(file.length);
      expect((await sharp(out).metadata()).orientation).toBe(1);
      const a = await storedPixels(file);
      const b = await storedPixels(out);
      expect(b.info).toEqual(a.info);
      expect(Buffer.compare(a.data, b.data)).toBe(0);
      expect(file[0]).toBe(format === 'jpeg' ? 0xff : format === 'png' ? 0x89 : 0x52); // the input is not modified in place
      expect((await sharp(file).metadata()).orientation).toBe(6);
    });
  }

  it('big-endian (MM) TIFF in a JPEG', async () => {
    const jpeg = await raw().jpeg().toBuffer();
    const file = Buffer.concat([jpeg.subarray(0, 2), bigEndianExifApp1(8), jpeg.subarray(2)]);
    expect((await sharp(file).metadata()).orientation).toBe(8);
    expect((await sharp(withoutExifOrientation(file)).metadata()).orientation).toBe(1);
  });

  it('returns the same bytes when there is nothing to change: no EXIF, orientation 1, not an image, truncated', async () => {
    const plain = await raw().png().toBuffer();
    const upright = await raw().jpeg().withMetadata({ orientation: 1 }).toBuffer();
    const rotated = await raw().jpeg().withMetadata({ orientation: 3 }).toBuffer();
    for (const b of [plain, upright, Buffer.from('not an image'), rotated.subarray(0, 30), new Uint8Array(0)]) {
      expect(withoutExifOrientation(b)).toBe(b);
    }
  });
});
