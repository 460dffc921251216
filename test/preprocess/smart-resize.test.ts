import { describe, expect, it } from 'vitest';
import { ImageError } from '../../src/preprocess/errors.js';
import { formatPyFloat } from '../../src/py/float-repr.js';
import { IMAGE_FACTOR, MAX_PIXELS_TOTAL, MIN_PIXELS, roundHalfEven, smartResize } from '../../src/preprocess/smart-resize.js';

// Expected values: spec section 2.1 and the loop-a README (computed there with Python).
describe('smartResize', () => {
  it('has the qwen_vl_utils / ViLaVT constants', () => {
    expect([IMAGE_FACTOR, MIN_PIXELS, MAX_PIXELS_TOTAL]).toEqual([28, 3136, 6422528]);
  });

  it('keeps 1288x980 (already multiples of 28, inside the budget)', () => {
    expect(smartResize(980, 1288, { maxPixels: MAX_PIXELS_TOTAL })).toEqual([980, 1288]);
    expect(smartResize(980, 1288, { maxPixels: MAX_PIXELS_TOTAL / 2 })).toEqual([980, 1288]);
  });

  it('rounds 640x480 to 644x476', () => {
    expect(smartResize(480, 640, { maxPixels: MAX_PIXELS_TOTAL / 2 })).toEqual([476, 644]);
  });

  it('downscales 2400x1600 with the divided budget, not with the full one', () => {
    expect(smartResize(1600, 2400, { maxPixels: 6422528 / 2 })).toEqual([1456, 2184]);
    expect(smartResize(1600, 2400, { maxPixels: 6422528 })).toEqual([1596, 2408]);
  });

  it('rounds halves to even: 630x479 -> 616x476 (630/28 = 22.5 -> 22)', () => {
    expect(smartResize(479, 630, { maxPixels: 6422528 })).toEqual([476, 616]);
  });

  it('enlarges tiny images to min_pixels: 20x20 -> 56x56', () => {
    expect(smartResize(20, 20, { maxPixels: 6422528 })).toEqual([56, 56]);
  });

  it('uses max(28, round) for thin images', () => {
    // 301x17: round(17/28)=1 -> 28; round(301/28)=11 -> 308; 308*28 = 8624 >= 3136.
    expect(smartResize(17, 301)).toEqual([28, 308]);
  });

  it('throws Python\'s aspect-ratio error text', () => {
    const err = (() => {
      try {
        smartResize(10, 2010);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ImageError);
    expect((err as ImageError).code).toBe('aspect_ratio');
    expect((err as ImageError).message).toBe('absolute aspect ratio must be smaller than 200, got 201.0');
    expect(() => smartResize(3, 1000)).toThrow('absolute aspect ratio must be smaller than 200, got 333.3333333333333');
    expect(() => smartResize(1, 200)).not.toThrow(); // exactly 200 is allowed
  });

  it('rejects non-positive or fractional sizes', () => {
    expect(() => smartResize(0, 10)).toThrow(ImageError);
    expect(() => smartResize(10.5, 10)).toThrow(ImageError);
  });
});

describe('Python number helpers', () => {
  it('roundHalfEven matches Python round()', () => {
    expect([0.5, 1.5, 2.5, 22.5, 23.5, 2.4999999999999996, -0.5, -1.5].map(roundHalfEven)).toEqual([0, 2, 2, 22, 24, 2, 0, -2]);
  });
  it('formatPyFloat matches Python str(float)', () => {
    expect(formatPyFloat(100)).toBe('100.0');
    expect(formatPyFloat(-5)).toBe('-5.0');
    expect(formatPyFloat(1e16)).toBe('1e+16');
    expect(formatPyFloat(1.5e16)).toBe('1.5e+16');
    expect(formatPyFloat(9999999999999998)).toBe('9999999999999998.0');
    expect(formatPyFloat(0.0001)).toBe('0.0001');
    expect(formatPyFloat(0.00001)).toBe('1e-05');
    expect(formatPyFloat(1e22)).toBe('1e+22');
    expect(formatPyFloat(0.1 + 0.2)).toBe('0.30000000000000004');
    expect(formatPyFloat(NaN)).toBe('nan');
    expect(formatPyFloat(-Infinity)).toBe('-inf');
  });
});
