import { describe, expect, it } from 'vitest';
import { runResampleGolden } from '../../src/golden/resample.js';
import { ImageError } from '../../src/preprocess/errors.js';
import { cropImage, toRgb, type DecodedImage } from '../../src/preprocess/image.js';
import { resize, type ResampleFilter } from '../../src/preprocess/resample.js';

const GOLDEN = new URL('../fixtures/golden/resample/', import.meta.url).pathname;

/** Deterministic test image: byte i = (i*37 + 11) % 256; alpha of pixel p = 0, 255 or (p*53) % 256. */
function makeImage(w: number, h: number, ch: 1 | 2 | 3 | 4): DecodedImage {
  const data = new Uint8Array(w * h * ch);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37 + 11) % 256;
  if (ch === 2 || ch === 4) {
    for (let p = 0; p < w * h; p++) data[p * ch + ch - 1] = p % 5 === 0 ? 0 : p % 5 === 1 ? 255 : (p * 53) % 256;
  }
  return { width: w, height: h, channels: ch, data };
}

const hex = (a: Uint8Array) => Buffer.from(a).toString('hex');

// Outputs of Pillow 9.4.0 (Debian python3-pil 9.4.0-1.1+deb12u1) on makeImage() inputs, e.g.
//   Image.fromarray(a, 'RGBA').resize((4, 7), Image.BICUBIC).tobytes().hex()
// Covers the premultiplied LA/RGBA path, L, single-axis resizes (one pass only) and every filter.
const PILLOW_CASES: { w: number; h: number; ch: 1 | 2 | 3 | 4; ow: number; oh: number; filter: ResampleFilter; hex: string }[] = [
  { w: 6, h: 5, ch: 4, ow: 4, oh: 7, filter: 'bicubic', hex: 'abcef6597a9eaea793ba49b25272b347729fc5a07da0bb9f6f93709c5e8fba777e85abc3688eb4a83e639b7b73769daad3668c8e406c91c136678d678f3d62ba546c92c7153a697652785aab85896db87c486dbf022e5c74618680c769997580ff03299311466b9c6c92b9c0294f7943' },
  { w: 6, h: 5, ch: 2, ow: 9, oh: 3, filter: 'lanczos', hex: 'ec6f79953bb85c95c8a4cbb25381096833687bac9bb692b82ca5207d636cab93acbda7c1b4d5a7a49462927f89ab61c63acd627ccc4c' },
  { w: 7, h: 4, ch: 1, ow: 3, oh: 4, filter: 'bilinear', hex: '2b7ac92e7dcc3180cf3483d2' },
  { w: 5, h: 6, ch: 3, ow: 5, oh: 2, filter: 'box', hex: '365b80a5ca9a69395e83a8cd9d6c3cb787567b4b7095ba8a597e4e7398bd' },
  { w: 5, h: 6, ch: 3, ow: 8, oh: 6, filter: 'hamming', hex: '0b305533587d7b9ec3d92247d51e43597ca19fc445c7ec11365b805e83a8a4c9ee284d7224496e82a7ccca4b70f2173c6186ab89ae77cff41b5378794f7499add2f751769b1d42678cb1d6b47da2fa21467e7fa47a9fa0d8fd247ca16a486d92b7dc0183a829274c7185aacf81a6cb052a4f4b70957398bde2072cae2f5452779ab0d51eacd11a305578769bc09ec3e8' },
  { w: 9, h: 7, ch: 4, ow: 9, oh: 3, filter: 'lanczos', hex: '3d84a97d678baf8d6288ad8ca47444af82a6a0c221468c83b16d938e2a6a908f8a587cb6a66d92ca355b7fcc072b504633667c50ec5735948aaf79d0713f64d5d61a3f4c1b4c7153cd001c3ea5caf08c40668be8f0a229ae0000ff08a8cc07416cafd38d5e486eeed285aab8' },
];

describe('resize (Pillow 9.4 Resample.c port)', () => {
  it('reproduces every case of the resample golden byte for byte', async () => {
    const r = await runResampleGolden(GOLDEN);
    expect(r.lines.length).toBe(14);
    expect(r.lines.filter((l) => !l.startsWith('PASS'))).toEqual([]);
    expect(r.ok).toBe(true);
  });

  for (const c of PILLOW_CASES) {
    it(`matches Pillow: ${c.w}x${c.h}x${c.ch} -> ${c.ow}x${c.oh} ${c.filter}`, () => {
      const out = resize(makeImage(c.w, c.h, c.ch), c.ow, c.oh, c.filter);
      expect([out.width, out.height, out.channels]).toEqual([c.ow, c.oh, c.ch]);
      expect(hex(out.data)).toBe(c.hex);
    });
  }

  it('returns an unchanged copy when the size is the same (Image.resize skips resampling)', () => {
    const img = makeImage(5, 4, 4);
    const out = resize(img, 5, 4, 'lanczos');
    expect(out.data).toEqual(img.data);
    expect(out.data).not.toBe(img.data);
  });

  it('keeps a constant image constant (coefficients sum to 1 in fixed point)', () => {
    const img: DecodedImage = { width: 13, height: 9, channels: 3, data: new Uint8Array(13 * 9 * 3).fill(200) };
    for (const f of ['bicubic', 'lanczos'] as const) {
      expect(resize(img, 5, 20, f).data.every((v) => v === 200)).toBe(true);
    }
  });

  it('rejects zero sizes with Pillow\'s message and bad input with ImageError', () => {
    const img = makeImage(4, 4, 3);
    expect(() => resize(img, 0, 3, 'bicubic')).toThrow('height and width must be > 0');
    expect(() => resize(img, 3, 2.5, 'bicubic')).toThrow(ImageError);
    expect(() => resize({ ...img, data: new Uint8Array(5) }, 3, 3, 'bicubic')).toThrow(ImageError);
    expect(() => resize(img, 3, 3, 'nearest' as ResampleFilter)).toThrow(ImageError);
  });
});

describe('toRgb / cropImage (Pillow semantics)', () => {
  it('pastes RGBA onto white with alpha as mask (qwen_vl_utils.to_rgb)', () => {
    // Pillow: bg = Image.new('RGB', im.size, (255,)*3); bg.paste(im, mask=im.split()[3])
    expect(hex(toRgb(makeImage(4, 3, 4)).data)).toBe('ffffff9fc4e9aabac9dcf36b7795b4ffffff83a8cd96a7b8c8e0f8597999ffffff678cb1');
  });

  it('converts LA with convert("RGB"), which drops alpha', () => {
    expect(hex(toRgb(makeImage(4, 3, 2)).data)).toBe('0b0b0b5555559f9f9fe9e9e93333337d7d7dc7c7c71111115b5b5ba5a5a5efefef393939');
  });

  it('returns RGB as it is, sharing its pixels (no copy), after checking it', () => {
    const img = makeImage(4, 3, 3);
    const out = toRgb(img);
    expect([out.width, out.height, out.channels]).toEqual([4, 3, 3]);
    expect(out.data).toBe(img.data);
    expect(() => toRgb({ ...img, data: img.data.subarray(1) })).toThrow(/must be a Uint8Array of 4\*3\*3 bytes/);
  });

  it('zero-fills the parts of a crop box outside the image', () => {
    const out = cropImage(makeImage(4, 3, 4), [-2, 1, 3, 5]);
    expect([out.width, out.height, out.channels]).toEqual([5, 4, 4]);
    expect(hex(out.data)).toBe(
      '00000000000000005b80a5d4ef14390083a8cdff0000000000000000abd0f5a83f6489ddd3f81d0000000000000000000000000000000000000000000000000000000000000000000000000000000000',
    );
  });

  it('rounds fractional boxes with Python round (half to even)', () => {
    const out = cropImage(makeImage(4, 3, 3), [2.5, 0.5, 3.5, 1.5]); // -> (2, 0, 4, 2)
    expect([out.width, out.height]).toEqual([2, 2]);
    expect(hex(out.data)).toBe('e90e33587da2a5caef14395e');
  });

  it('rejects inverted boxes with Pillow\'s messages', () => {
    const img = makeImage(4, 3, 3);
    expect(() => cropImage(img, [3, 0, 2, 1])).toThrow("Coordinate 'right' is less than 'left'");
    expect(() => cropImage(img, [0, 2, 1, 1])).toThrow("Coordinate 'lower' is less than 'upper'");
    expect(cropImage(img, [1, 1, 1, 2]).width).toBe(0);
  });
});
