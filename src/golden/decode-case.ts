// One case of a `kind: "decode"` golden folder (cases.json: file, pillow_mode, width, height, sha256_rgb): the
// platform's decoder, then to_rgb (RGBA on white, everything else convert("RGB")), then SHA-256 of the RGB bytes.
// Platform-neutral (Web Crypto, present in Node and browsers): the Node runner and the browser test share it.
import type { DecodedImage } from '../preprocess/image.js';
import { toRgb } from '../preprocess/image.js';

export interface DecodeCase {
  file: string;
  pillow_mode: string;
  width: number;
  height: number;
  sha256_rgb: string;
  expected_png?: string;
}

export interface DecodeGoldenDoc {
  kind: 'decode';
  cases: DecodeCase[];
}

/** Throws unless `doc` is a decode golden's cases.json. */
export function checkDecodeGoldenDoc(doc: unknown, where: string): asserts doc is DecodeGoldenDoc {
  const d = doc as Partial<DecodeGoldenDoc> | null;
  if (d?.kind !== 'decode' || !Array.isArray(d.cases) || d.cases.length === 0) {
    throw new Error(`${where}: not a decode golden (needs "kind": "decode" and a non-empty "cases" list)`);
  }
  for (const c of d.cases) {
    if (typeof c?.file !== 'string' || !/^[0-9a-f]{64}$/.test(String(c.sha256_rgb)) || !Number.isInteger(c.width) || !Number.isInteger(c.height)) {
      throw new Error(`${where}: case ${JSON.stringify(c)} needs file, width, height and a sha256_rgb hex digest`);
    }
  }
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Decodes `bytes` with `decode`, converts to RGB and compares the hash: one "PASS file (mode)" or
 * "FAIL file (mode): why" line. `expected` (the golden's expected RGB bytes, when the caller has them) lets a
 * hash mismatch say where the bytes first differ.
 */
export async function checkDecodeCase(
  c: DecodeCase, bytes: Uint8Array, decode: (bytes: Uint8Array, name: string) => Promise<DecodedImage>, expected?: Uint8Array,
): Promise<string> {
  const label = `${c.file} (${c.pillow_mode} ${c.width}x${c.height})`;
  let img: DecodedImage;
  try {
    img = await decode(bytes, c.file);
  } catch (e) {
    return `FAIL ${label}: ${(e as Error).name}: ${(e as Error).message}`;
  }
  if (img.width !== c.width || img.height !== c.height) return `FAIL ${label}: decoded ${img.width}x${img.height}`;
  const rgb = toRgb(img).data;
  const got = await sha256Hex(rgb);
  if (got === c.sha256_rgb) return `PASS ${label}`;
  let where = '';
  if (expected && expected.length === rgb.length) {
    let diffs = 0;
    let maxDiff = 0;
    let first = -1;
    for (let i = 0; i < rgb.length; i++) {
      const d = Math.abs(rgb[i]! - expected[i]!);
      if (d === 0) continue;
      diffs++;
      maxDiff = Math.max(maxDiff, d);
      if (first < 0) first = i;
    }
    const px = Math.floor(first / 3);
    where = `; ${diffs} of ${rgb.length} bytes differ (max by ${maxDiff}), first at pixel (${px % c.width}, ${Math.floor(px / c.width)}) channel ${first % 3}: ${rgb[first]} vs ${expected[first]}`;
  }
  return `FAIL ${label}: RGB sha256 ${got.slice(0, 16)}…, expected ${c.sha256_rgb.slice(0, 16)}…${where}`;
}
