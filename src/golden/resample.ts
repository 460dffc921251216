import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeImageFile } from '../platform/node-image.js';
import { resize, type ResampleFilter } from '../preprocess/resample.js';

interface ResampleCase {
  input: string;
  input_wh: [number, number];
  filter: ResampleFilter;
  output_wh: [number, number];
  output_rgb_base64: string;
}

/**
 * Runs every case of a resample golden folder (DIR/cases.json: Pillow outputs as raw RGB bytes):
 * decode the input PNG, resize it, compare bytes. One line per case.
 */
export async function runResampleGolden(dir: string): Promise<{ ok: boolean; lines: string[] }> {
  const doc = JSON.parse(await readFile(join(dir, 'cases.json'), 'utf8')) as { cases: ResampleCase[] };
  const lines: string[] = [];
  let ok = true;
  for (const c of doc.cases) {
    const [w, h] = c.output_wh;
    const label = `${c.input} ${c.input_wh.join('x')} -> ${w}x${h} ${c.filter}`;
    let line: string;
    try {
      const img = await decodeImageFile(join(dir, c.input));
      if (img.width !== c.input_wh[0] || img.height !== c.input_wh[1] || img.channels !== 3) {
        throw new Error(`decoded ${img.width}x${img.height}x${img.channels}, expected ${c.input_wh.join('x')}x3`);
      }
      const got = resize(img, w, h, c.filter).data;
      const want = Buffer.from(c.output_rgb_base64, 'base64');
      line = `PASS ${label}`;
      if (got.length !== want.length) {
        line = `FAIL ${label}: ${got.length} bytes, expected ${want.length}`;
      } else {
        const i = got.findIndex((v, k) => v !== want[k]);
        if (i >= 0) {
          const diffs = got.reduce((n, v, k) => n + (v !== want[k] ? 1 : 0), 0);
          line = `FAIL ${label}: byte ${i} (pixel ${Math.floor(i / 3)}, channel ${i % 3}) = ${got[i]}, expected ${want[i]}; ${diffs} bytes differ`;
        }
      }
    } catch (e) {
      line = `FAIL ${label}: ${(e as Error).message}`;
    }
    if (!line.startsWith('PASS')) ok = false;
    lines.push(line);
  }
  return { ok, lines };
}
