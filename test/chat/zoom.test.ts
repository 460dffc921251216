// Expected numbers come from MODEL.md §6.4 and the loop-a README (worked examples), and from Python's
// arithmetic where written out below.
import { describe, expect, it } from 'vitest';
import { planCrop, renderCrop, type ZoomSource } from '../../src/chat/zoom.js';
import type { DecodedImage } from '../../src/preprocess/image.js';
import { pyError } from '../helpers/py-error.js';

const FULL = { maxPixels: 8192 * 28 * 28, minPixels: 3136 };
const scene: ZoomSource = { width: 1288, height: 980, region: [0, 0, 1, 1], originalWidth: 1288, originalHeight: 980 };

describe('planCrop', () => {
  it('truncates float noise: x1=100 on a 1288-wide image starts the box at 99', () => {
    const p = planCrop(scene, [100, 100, 380, 310], FULL);
    expect(100 / 1288 * 1288).toBe(99.99999999999999);
    expect(p.box).toEqual([99, 100, 380, 310]);
    expect([p.cropWidth, p.cropHeight]).toEqual([281, 210]);
    expect(p.currentScale).toBe(1);
    expect(p.scale).toBe(2);
    expect([p.zoomWidth, p.zoomHeight]).toEqual([562, 420]);
    // smart_resize(420, 562): round(562/28)=20 -> 560, 420 = 15*28
    expect([p.processedWidth, p.processedHeight]).toEqual([560, 420]);
    expect(p.region).toEqual([100 / 1288, 100 / 980, 380 / 1288, 310 / 980]);
  });

  it('zooms a downscaled image by 2x its display scale, capped at the original size', () => {
    // 2400x1600 shown as 2184x1456 (budget 6422528/2): current scale 0.91.
    const photo: ZoomSource = { width: 2184, height: 1456, region: [0, 0, 1, 1], originalWidth: 2400, originalHeight: 1600 };
    const p = planCrop(photo, [0, 0, 2184, 1456], FULL);
    expect(p.currentScale).toBe(2184 / 2400);
    expect(p.box).toEqual([0, 0, 2400, 1600]);
    expect(p.scale).toBe(1); // min(1.82, 1/1, 1/1)
    expect([p.zoomWidth, p.zoomHeight]).toEqual([2400, 1600]);
    // With the FULL budget (not the divided one) smart_resize keeps ~2400x1600.
    expect([p.processedWidth, p.processedHeight]).toEqual([2408, 1596]);
  });

  it('cuts crops of crops from the original using the accumulated region', () => {
    const crop: ZoomSource = { width: 616, height: 476, region: [0.25, 0.5, 0.75, 1], originalWidth: 640, originalHeight: 480 };
    const p = planCrop(crop, [154, 119, 308, 238], FULL);
    const nx1 = 0.25 + (154 / 616) * 0.5;
    const ny1 = 0.5 + (119 / 476) * 0.5;
    expect(p.region[0]).toBe(nx1);
    expect(p.region[1]).toBe(ny1);
    expect(p.box).toEqual([Math.trunc(nx1 * 640), Math.trunc(ny1 * 480), Math.trunc((0.25 + 0.25) * 640), Math.trunc(0.75 * 480)]);
    expect(p.currentScale).toBe(616 / (0.5 * 640));
  });

  it('raises Pillow / smart_resize errors as Python exceptions', () => {
    // 0-wide crop resized to (0, 20): Pillow's ValueError
    expect(pyError(() => planCrop(scene, [10.2, 10, 10.5, 20], FULL))).toBe('ValueError: height and width must be > 0');
    // 0x0 crop, resize to (0, 0) is a copy, then smart_resize divides 0 by 0
    expect(pyError(() => planCrop(scene, [10.2, 10.2, 10.5, 10.5], FULL))).toBe('ZeroDivisionError: division by zero');
    // 1288x5 strip: scale min(2, 1, 196) = 1, ratio 1288/5 = 257.6
    expect(pyError(() => planCrop(scene, [0, 0, 1288, 5], FULL))).toBe(
      'ValueError: absolute aspect ratio must be smaller than 200, got 257.6',
    );
  });
});

describe('renderCrop', () => {
  it('cuts the box from the original pixels (scale 1 leaves the crop untouched)', () => {
    const W = 100;
    const H = 80;
    const data = new Uint8Array(W * H * 3);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) data.set([x, y, (x * 7 + y * 3) & 255], (y * W + x) * 3);
    const original: DecodedImage = { width: W, height: H, channels: 3, data };
    // Displayed at half size: current scale 0.5, so the zoom factor is 1.
    const src: ZoomSource = { width: 50, height: 40, region: [0, 0, 1, 1], originalWidth: W, originalHeight: H };
    const plan = planCrop(src, [10, 5, 38, 33], FULL);
    expect(plan.box).toEqual([20, 10, 76, 66]);
    expect(plan.scale).toBe(1);
    const { zoom, processed } = renderCrop(original, plan, FULL);
    expect([zoom.width, zoom.height]).toEqual([56, 56]);
    for (const [x, y] of [[0, 0], [55, 0], [13, 41], [55, 55]] as const) {
      const o = ((10 + y) * W + 20 + x) * 3;
      expect([...zoom.data.subarray((y * 56 + x) * 3, (y * 56 + x) * 3 + 3)]).toEqual([...data.subarray(o, o + 3)]);
    }
    // 56x56 is already a multiple of 28 inside the budget: fetch_image leaves it alone.
    expect(processed.data).toEqual(zoom.data);
  });
});
