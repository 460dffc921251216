// Browsers apply a file's EXIF orientation when they decode it, whatever createImageBitmap's imageOrientation says
// (Chromium 156 rotates JPEG and PNG for 'none', 'from-image' and 'flipY' alike). Pillow's Image.open does not, so
// before decoding, a copy of the file gets its orientation tag set to 1 ("as stored"). Pure byte manipulation:
// JPEG APP1 "Exif", PNG eXIf (CRC recomputed) and WebP EXIF chunks; any other file is returned unchanged.

import { crc32 } from '../util/crc32.js';

const ORIENTATION_TAG = 0x0112;

/** Sets IFD0's Orientation (a SHORT) to 1 in the TIFF structure at `at`; true when a tag was changed. */
function patchTiff(b: Uint8Array, at: number, end: number): boolean {
  if (at + 8 > end) return false;
  const le = b[at] === 0x49 && b[at + 1] === 0x49; // "II"
  if (!le && !(b[at] === 0x4d && b[at + 1] === 0x4d)) return false; // not "MM" either
  const u16 = (o: number) => (le ? b[o]! | (b[o + 1]! << 8) : (b[o]! << 8) | b[o + 1]!);
  const u32 = (o: number) => (le ? (u16(o) | (u16(o + 2) << 16)) >>> 0 : ((u16(o) << 16) | u16(o + 2)) >>> 0);
  if (u16(at + 2) !== 42) return false;
  const ifd = at + u32(at + 4);
  if (ifd + 2 > end) return false;
  const n = u16(ifd);
  for (let i = 0; i < n; i++) {
    const e = ifd + 2 + i * 12;
    if (e + 12 > end) return false;
    if (u16(e) !== ORIENTATION_TAG || u16(e + 2) !== 3 /* SHORT */) continue;
    if (u16(e + 8) === 1) return false;
    b[e + 8] = le ? 1 : 0;
    b[e + 9] = le ? 0 : 1;
    return true;
  }
  return false;
}

const ascii = (b: Uint8Array, at: number, s: string) => [...s].every((ch, i) => b[at + i] === ch.charCodeAt(0));
const be32 = (b: Uint8Array, o: number) => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
const le32 = (b: Uint8Array, o: number) => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;

/** A copy of the file with every EXIF orientation set to 1, or `bytes` itself when there is none to change. */
export function withoutExifOrientation(bytes: Uint8Array): Uint8Array {
  const b = new Uint8Array(bytes); // a copy (Buffer#slice would be a view)
  let changed = false;
  if (b[0] === 0xff && b[1] === 0xd8) {
    // JPEG: marker segments up to the scan; APP1 segments that start with "Exif\0\0" hold a TIFF structure.
    let i = 2;
    while (i + 4 <= b.length && b[i] === 0xff) {
      const marker = b[i + 1]!;
      if (marker === 0xda || marker === 0xd9) break;
      if (marker === 0xff) { i++; continue; } // fill byte
      const len = (b[i + 2]! << 8) | b[i + 3]!;
      if (marker === 0xe1 && ascii(b, i + 4, 'Exif\0\0')) changed = patchTiff(b, i + 10, Math.min(b.length, i + 2 + len)) || changed;
      i += 2 + len;
    }
  } else if (ascii(b, 0, '\x89PNG\r\n\x1a\n')) {
    let i = 8;
    while (i + 12 <= b.length) {
      const len = be32(b, i);
      const end = i + 8 + len;
      if (end + 4 > b.length) break;
      if (ascii(b, i + 4, 'eXIf') && patchTiff(b, i + 8, end)) {
        const crc = crc32(b, i + 4, end);
        b[end] = crc >>> 24; b[end + 1] = (crc >>> 16) & 0xff; b[end + 2] = (crc >>> 8) & 0xff; b[end + 3] = crc & 0xff;
        changed = true;
      }
      if (ascii(b, i + 4, 'IEND')) break;
      i = end + 4;
    }
  } else if (ascii(b, 0, 'RIFF') && ascii(b, 8, 'WEBP')) {
    let i = 12;
    while (i + 8 <= b.length) {
      const len = le32(b, i + 4);
      const end = Math.min(b.length, i + 8 + len);
      if (ascii(b, i, 'EXIF')) {
        const tiff = ascii(b, i + 8, 'Exif\0\0') ? i + 14 : i + 8; // some writers keep the JPEG prefix
        changed = patchTiff(b, tiff, end) || changed;
      }
      i += 8 + len + (len & 1);
    }
  }
  return changed ? b : bytes;
}
