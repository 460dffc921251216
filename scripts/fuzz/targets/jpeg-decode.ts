// The browser path's JPEG decoder in code (src/preprocess/jpeg.ts: Huffman baseline/extended/progressive, 8-bit,
// 1×1 sampling, libjpeg's islow IDCT), on mutated JPEGs: the fixtures' (CMYK and others) and sharp's 4:4:4 ones.
import sharp from 'sharp';
import { ImageError } from '../../../src/preprocess/errors.js';
import { decodeJpegSamples, readJpegFrame } from '../../../src/preprocess/jpeg.js';
import { mulberry32 } from '../../../src/util/random.js';
import { concat, mutateBytes } from '../mutate.js';
import type { Fuzzer } from '../runner.js';
import type { Rng } from '../rng.js';
import { fileSeeds, sharpSeeds } from './image-decode.js';

const isJpeg = (b: Uint8Array) => b[0] === 0xff && b[1] === 0xd8;

/** Overwrites the frame size in the first SOFn marker (the decoder's allocation is sized from it). */
function frameSize(rng: Rng, b: Uint8Array): Uint8Array {
  for (let i = 2; i + 9 < b.length; i++) {
    if (b[i] === 0xff && b[i + 1]! >= 0xc0 && b[i + 1]! <= 0xc2) {
      const out = b.slice();
      const v = rng.pick([0, 1, 7, 8, 9, 16, 255, 256, 4095, 0x7fff, 0xffff]);
      const at = i + (rng.chance(0.5) ? 5 : 7); // height, width (big-endian u16)
      out[at] = v >> 8;
      out[at + 1] = v & 255;
      return out;
    }
  }
  return b;
}

export const jpegDecodeFuzzer: Fuzzer = {
  name: 'jpeg-decode',
  description: 'readJpegFrame + decodeJpegSamples (the browser decoder in code) on mutated JPEGs',
  expected: [ImageError],
  async create() {
    const next = mulberry32(13);
    const raw = (w: number, h: number, c: 1 | 3) => sharp(Uint8Array.from({ length: w * h * c }, () => Math.floor(next() * 256)), { raw: { width: w, height: h, channels: c } });
    const own = await Promise.all([
      raw(16, 12, 3).jpeg({ quality: 85, chromaSubsampling: '4:4:4' }).toBuffer(),
      raw(13, 9, 3).jpeg({ quality: 60, chromaSubsampling: '4:4:4', progressive: true }).toBuffer(),
      raw(17, 8, 1).toColourspace('b-w').jpeg({ quality: 90 }).toBuffer(),
      raw(16, 16, 3).jpeg({ quality: 75, chromaSubsampling: '4:4:4', optimiseCoding: true }).toBuffer(),
    ]);
    const seeds = [...fileSeeds(), ...(await sharpSeeds()), ...own.map((b) => new Uint8Array(b))].filter(isJpeg);
    return {
      generate(rng) {
        let b = rng.pick(seeds);
        const r = rng.int(10);
        if (r <= 1) b = frameSize(rng, b);
        else if (r === 2) b = concat(b.subarray(0, rng.int(b.length)), rng.pick(seeds));
        for (let k = rng.range(r <= 1 ? 0 : 1, 4); k > 0; k--) b = mutateBytes(rng, b, seeds);
        return b;
      },
      run(input) {
        const b = input as Uint8Array;
        readJpegFrame(b);
        decodeJpegSamples(b);
      },
    };
  },
};
