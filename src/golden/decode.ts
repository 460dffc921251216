import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeImageBuffer } from '../platform/node-image.js';
import { checkDecodeCase, checkDecodeGoldenDoc } from './decode-case.js';

/**
 * Runs every case of a `kind: "decode"` golden folder through the Node decoder: one PASS/FAIL line per case. The
 * expected PNG (lossless 8-bit RGB, read by the same decoder's PNG path) only serves to locate a mismatch.
 */
export async function runDecodeGolden(dir: string): Promise<{ ok: boolean; lines: string[] }> {
  const doc: unknown = JSON.parse(await readFile(join(dir, 'cases.json'), 'utf8'));
  checkDecodeGoldenDoc(doc, join(dir, 'cases.json'));
  const lines: string[] = [];
  for (const c of doc.cases) {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(join(dir, c.file));
    } catch (e) {
      lines.push(`FAIL ${c.file}: ${(e as Error).message}`);
      continue;
    }
    const expected = c.expected_png
      ? await readFile(join(dir, c.expected_png)).then((b) => decodeImageBuffer(b)).then((im) => (im.channels === 3 ? im.data : undefined), () => undefined)
      : undefined;
    lines.push(await checkDecodeCase(c, bytes, (b) => decodeImageBuffer(b), expected));
  }
  return { ok: lines.every((l) => l.startsWith('PASS')), lines };
}
