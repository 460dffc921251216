// Image files: real seeds (test/fixtures/golden/decode-a, decode-b: BMP layouts and CMYK JPEGs, resample) and tiny
// PNG/JPEG/WebP/GIF/TIFF made by sharp plus hand-written BMPs, mutated as bytes (PNG chunk CRCs sometimes repaired
// so the mutation reaches the decoder), then decodeImageBuffer as the CLI calls it (no pixel cap) and toRgb.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { decodeImageBuffer } from '../../../src/platform/node-image.js';
import { ImageError } from '../../../src/preprocess/errors.js';
import { toRgb } from '../../../src/preprocess/image.js';
import { mulberry32 } from '../../../src/util/random.js';
import { concat, mutateBytes } from '../mutate.js';
import type { Fuzzer } from '../runner.js';
import type { Rng } from '../rng.js';

const FIXTURES = ['test/fixtures/golden/decode-a', 'test/fixtures/golden/decode-b', 'test/fixtures/golden/resample'];
const IMAGE_FILE = /\.(png|jpe?g|webp|gif|bmp|tiff?)$/i;
/** Real seeds larger than this are skipped: each input must stay small enough to decode in well under a second. */
const MAX_SEED_BYTES = 32 * 1024;

/** A bottom-up BMP (BITMAPINFOHEADER) of 24 or 32 bits per pixel, rows padded to 4 bytes. */
export function bmp(width: number, height: number, bits: 24 | 32, seed: number): Uint8Array {
  const next = mulberry32(seed);
  const stride = Math.ceil((width * bits) / 32) * 4;
  const size = 54 + stride * height;
  const b = new Uint8Array(size);
  const dv = new DataView(b.buffer);
  b[0] = 0x42; b[1] = 0x4d;
  dv.setUint32(2, size, true); dv.setUint32(10, 54, true); dv.setUint32(14, 40, true);
  dv.setInt32(18, width, true); dv.setInt32(22, height, true); dv.setUint16(26, 1, true); dv.setUint16(28, bits, true);
  dv.setUint32(34, stride * height, true);
  for (let i = 54; i < size; i++) b[i] = Math.floor(next() * 256);
  return b;
}

export async function sharpSeeds(): Promise<Uint8Array[]> {
  const next = mulberry32(11);
  const raw = (w: number, h: number, c: 1 | 2 | 3 | 4) => sharp(Uint8Array.from({ length: w * h * c }, () => Math.floor(next() * 256)), { raw: { width: w, height: h, channels: c } });
  const outs = await Promise.all([
    raw(12, 9, 3).png().toBuffer(),
    raw(12, 9, 4).png().toBuffer(),
    raw(9, 12, 1).toColourspace('b-w').png().toBuffer(),
    raw(9, 12, 2).toColourspace('b-w').png().toBuffer(),
    raw(10, 10, 3).png({ palette: true, colours: 8 }).toBuffer(),
    raw(8, 8, 3).toColourspace('rgb16').png().toBuffer(),
    raw(16, 12, 3).jpeg({ quality: 80 }).toBuffer(),
    raw(16, 12, 3).jpeg({ quality: 80, progressive: true, chromaSubsampling: '4:4:4' }).toBuffer(),
    raw(16, 12, 1).toColourspace('b-w').jpeg().toBuffer(),
    raw(16, 12, 3).webp({ quality: 50 }).toBuffer(),
    raw(12, 9, 4).webp({ lossless: true }).toBuffer(),
    raw(12, 9, 3).gif().toBuffer(),
    raw(8, 8, 3).tiff().toBuffer(),
  ]);
  return [...outs.map((b) => new Uint8Array(b)), bmp(7, 5, 24, 1), bmp(6, 4, 32, 2)];
}

/** Files of the fixture folders that decode now (mutations need a valid starting point). */
export function fileSeeds(): Uint8Array[] {
  return FIXTURES.filter((d) => existsSync(d)).flatMap((dir) => readdirSync(dir)
    .filter((f) => IMAGE_FILE.test(f))
    .map((f) => new Uint8Array(readFileSync(join(dir, f))))
    .filter((b) => b.length <= MAX_SEED_BYTES));
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Rewrites every PNG chunk's CRC (after a mutation) so libpng does not stop at the checksum. */
export function repairPngCrcs(b: Uint8Array): Uint8Array {
  if (b.length < 8 || PNG_SIGNATURE.some((v, i) => b[i] !== v)) return b;
  const out = b.slice();
  const dv = new DataView(out.buffer);
  for (let p = 8; p + 12 <= out.length; ) {
    const len = dv.getUint32(p);
    const end = p + 8 + len;
    if (end + 4 > out.length) break;
    dv.setUint32(end, crc32(out.subarray(p + 4, end)));
    p = end + 4;
  }
  return out;
}

/** Overwrites the sizes in a PNG IHDR (the most common way to claim a huge image). */
function pngSize(rng: Rng, b: Uint8Array): Uint8Array {
  if (b.length < 33 || b[12] !== 0x49 || b[13] !== 0x48) return b;
  const out = b.slice();
  const dv = new DataView(out.buffer);
  const sizes = [0, 1, 2, 255, 16383, 16384, 65535, 0x7fffffff, 0x80000000, 0xffffffff];
  if (rng.chance(0.5)) dv.setUint32(16, rng.pick(sizes));
  else dv.setUint32(20, rng.pick(sizes));
  return repairPngCrcs(out);
}

/** Overwrites one field of a BMP header (offset, header size, sizes, planes, bits, compression, palette size, masks). */
function bmpField(rng: Rng, b: Uint8Array): Uint8Array {
  if (b.length < 54 || b[0] !== 0x42 || b[1] !== 0x4d) return b;
  const out = b.slice();
  const dv = new DataView(out.buffer);
  const [at, bytes] = rng.pick([[2, 4], [10, 4], [14, 4], [18, 4], [22, 4], [26, 2], [28, 2], [30, 4], [34, 4], [46, 4], [50, 4], [54, 4], [58, 4]] as const);
  if (at + bytes > out.length) return out;
  const v = rng.pick([0, 1, 2, 3, 4, 8, 15, 16, 24, 32, 40, 64, 108, 124, 255, 256, 0x7fff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffff0]);
  if (bytes === 2) dv.setUint16(at, v & 0xffff, true);
  else dv.setUint32(at, v >>> 0, true);
  return out;
}

export const imageDecodeFuzzer: Fuzzer = {
  name: 'image-decode',
  description: 'decodeImageBuffer (sharp) + toRgb on mutated PNG/JPEG/WebP/GIF/TIFF/BMP files (real fixtures and tiny generated ones)',
  expected: [ImageError],
  async create() {
    // Mutations start from files that decode.
    const seeds: Uint8Array[] = [];
    for (const s of [...fileSeeds(), ...(await sharpSeeds())]) {
      if (await decodeImageBuffer(s).then(() => true, () => false)) seeds.push(s);
    }
    return {
      generate(rng) {
        let b = rng.pick(seeds);
        const r = rng.int(10);
        if (r === 0) b = pngSize(rng, b);
        else if (r <= 2) b = bmpField(rng, b);
        else if (r === 3) b = concat(b.subarray(0, rng.int(b.length)), rng.pick(seeds)); // two files glued
        for (let k = rng.range(r <= 2 ? 0 : 1, 4); k > 0; k--) b = mutateBytes(rng, b, seeds);
        if (rng.chance(0.5)) b = repairPngCrcs(b);
        return b;
      },
      async run(input) {
        toRgb(await decodeImageBuffer(input as Uint8Array));
      },
    };
  },
};
