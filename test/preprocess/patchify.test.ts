import { describe, expect, it } from 'vitest';
import { ImageError } from '../../src/preprocess/errors.js';
import { patchify } from '../../src/preprocess/patchify.js';
import { decodeImageFile } from '../../src/platform/node-image.js';
import type { RgbImage } from '../../src/preprocess/image.js';
import { goldenF32, readGolden } from '../helpers/read-golden.js';

const TINY = new URL('../fixtures/golden/tiny-a/', import.meta.url).pathname;

async function rgb(file: string): Promise<RgbImage> {
  const img = await decodeImageFile(TINY + file);
  expect(img.channels).toBe(3);
  return img as RgbImage;
}

function firstMismatch(a: Float32Array, b: Float32Array): string {
  if (a.length !== b.length) return `length ${a.length} vs ${b.length}`;
  const i = a.findIndex((v, k) => !Object.is(v, b[k]));
  return i < 0 ? 'none' : `index ${i}: ${a[i]} vs ${b[i]}`;
}

describe('patchify (Qwen2VLImageProcessor layout)', () => {
  it('reproduces tiny-a a_vision pixel_values exactly (f32 bit-equal)', async () => {
    const g = readGolden(TINY + 'a_vision.safetensors');
    const { pixelValues, gridThw } = patchify(await rgb('images/image0.png'));
    expect(gridThw).toEqual([1, 6, 8]);
    expect(firstMismatch(pixelValues, goldenF32(g, 'pixel_values'))).toBe('none');
  });

  it('reproduces b_reencode pixel_values (two regions concatenated) exactly', async () => {
    const g = readGolden(TINY + 'b_reencode.safetensors');
    const r0 = patchify(await rgb('images/region0.png'));
    const r1 = patchify(await rgb('images/region1.png'));
    expect([r0.gridThw, r1.gridThw]).toEqual([[1, 6, 4], [1, 4, 6]]);
    const both = new Float32Array(r0.pixelValues.length + r1.pixelValues.length);
    both.set(r0.pixelValues);
    both.set(r1.pixelValues, r0.pixelValues.length);
    expect(firstMismatch(both, goldenF32(g, 'pixel_values'))).toBe('none');
  });

  it("'float32' arithmetic reproduces numpy float32 (HF slow processor) values", () => {
    // Bit patterns from numpy: ((p.astype(f64) * 0.00392156862745098).astype(f32) - f32(mean)) / f32(std).
    const bytes = [0, 1, 77, 128, 200, 254, 255];
    const want = [
      [0xbfe568dc, 0xbfe38a7f, 0xbf2b0e15, 0x3d9c5620, 0x3f904f64, 0x3ff536e5, 0x3ff71541],
      [0xbfe044b8, 0xbfde58f1, 0xbf18b427, 0x3e2cf36b, 0x3f9fee31, 0x4003d502, 0x4004cae5],
      [0xbfbd77d8, 0xbfbba5e1, 0xbec542b8, 0x3eae0dc4, 0x3fae90c9, 0x40086d66, 0x40095660],
    ];
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < bytes.length; i++) {
        const data = new Uint8Array(28 * 28 * 3).fill(bytes[i]!);
        const v = patchify({ width: 28, height: 28, channels: 3, data }, { arithmetic: 'float32' }).pixelValues;
        // channel c occupies columns [c*392, (c+1)*392)
        const bits = new Uint32Array(new Float32Array([v[c * 392]!]).buffer)[0];
        expect(bits, `channel ${c} byte ${bytes[i]}`).toBe(want[c]![i]);
      }
    }
  });

  it('places pixels in merge order, channel-major columns, with the frame duplicated', () => {
    // 56x28 image: grid 2x4 patches; pixel value encodes its position so the layout can be read back.
    const W = 56, H = 28;
    const data = new Uint8Array(W * H * 3);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let c = 0; c < 3; c++) data[(y * W + x) * 3 + c] = (x + 2 * y + 50 * c) % 256;
    const mean = [0, 0, 0], std = [1 / 255, 1 / 255, 1 / 255]; // value ~= byte
    const { pixelValues, gridThw } = patchify({ width: W, height: H, channels: 3, data }, { mean, std });
    expect(gridThw).toEqual([1, 2, 4]);
    const row = (r: number) => pixelValues.subarray(r * 1176, (r + 1) * 1176);
    // Row 3 = block (0,0), (mh,mw) = (1,1) -> patch (1,1): origin y=14, x=14.
    // Row 5 = block (0,1), (mh,mw) = (0,1) -> patch (0,3): origin y=0, x=42.
    for (const [r, y0, x0] of [[3, 14, 14], [5, 0, 42]] as const) {
      for (const [c, t, py, px] of [[0, 0, 0, 0], [1, 1, 5, 9], [2, 0, 13, 13], [2, 1, 13, 13]] as const) {
        const got = row(r)[((c * 2 + t) * 14 + py) * 14 + px]!;
        expect(Math.round(got)).toBe((x0 + px + 2 * (y0 + py) + 50 * c) % 256);
      }
    }
  });

  it('rejects sizes that are not multiples of 28', () => {
    const img = { width: 42, height: 28, channels: 3 as const, data: new Uint8Array(42 * 28 * 3) };
    expect(() => patchify(img)).toThrow(ImageError);
  });
});
