import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fetchImage } from '../../src/preprocess/fetch-image.js';
import { cropImage, type DecodedImage } from '../../src/preprocess/image.js';
import { resize } from '../../src/preprocess/resample.js';
import { MAX_PIXELS_TOTAL } from '../../src/preprocess/smart-resize.js';
import { decodeImageFile } from '../../src/platform/node-image.js';

const DIR = new URL('../fixtures/golden/loop-a/', import.meta.url).pathname;

interface Crop {
  original_file: string;
  box: [number, number, number, number];
  crop_wh: [number, number];
  zoom_wh: [number, number];
  zoom_sha256: string;
  processed_wh: [number, number];
  processed_sha256: string;
}
interface Golden {
  images: Record<string, { width: number; height: number; sha256_rgb: string }>;
  trajectories: {
    expected: {
      initial_images: { file: string; max_pixels: number; processed_wh: [number, number]; processed_sha256: string }[];
      calls: { tool?: { crops?: Crop[] } }[];
    };
  }[];
}
const golden = JSON.parse(readFileSync(DIR + 'cases.json', 'utf8')) as Golden;

const sha = (img: DecodedImage) => createHash('sha256').update(img.data).digest('hex');
const originals = new Map<string, Promise<DecodedImage>>();
const original = (f: string) => {
  if (!originals.has(f)) originals.set(f, decodeImageFile(DIR + f));
  return originals.get(f)!;
};

describe('loop-a images (fetch_image and zoom pixels)', () => {
  it('decodes the originals to the recorded RGB bytes', async () => {
    for (const [file, info] of Object.entries(golden.images)) {
      const img = await original(file);
      expect([img.width, img.height, img.channels]).toEqual([info.width, info.height, 3]);
      expect(sha(img), file).toBe(info.sha256_rgb);
    }
  });

  it('fetch_image of every distinct initial image matches processed_wh and processed_sha256', async () => {
    const seen = new Set<string>();
    for (const t of golden.trajectories) {
      for (const ii of t.expected.initial_images) {
        const key = `${ii.file}@${ii.max_pixels}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const out = fetchImage(await original(ii.file), { maxPixels: ii.max_pixels });
        expect([out.width, out.height], key).toEqual(ii.processed_wh);
        expect(sha(out), key).toBe(ii.processed_sha256);
      }
    }
    expect(seen.size).toBe(5); // 3 files; 2 of them also with the budget halved
  });

  it('crop + LANCZOS zoom + fetch_image of every distinct recorded crop box matches the hashes', async () => {
    const seen = new Set<string>();
    for (const t of golden.trajectories) {
      for (const call of t.expected.calls) {
        for (const c of call.tool?.crops ?? []) {
          const key = `${c.original_file}[${c.box.join(',')}]->${c.zoom_wh.join('x')}`;
          if (seen.has(key)) continue;
          seen.add(key);
          const crop = cropImage(await original(c.original_file), c.box);
          expect([crop.width, crop.height], key).toEqual(c.crop_wh);
          const zoom = resize(crop, c.zoom_wh[0], c.zoom_wh[1], 'lanczos');
          expect(sha(zoom), key).toBe(c.zoom_sha256);
          const shown = fetchImage(zoom, { maxPixels: MAX_PIXELS_TOTAL });
          expect([shown.width, shown.height], key).toEqual(c.processed_wh);
          expect(sha(shown), key).toBe(c.processed_sha256);
        }
      }
    }
    expect(seen.size).toBeGreaterThan(40);
  });
});
