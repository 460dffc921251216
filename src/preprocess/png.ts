// PNG decoding in code, for the layouts a browser cannot hand over with Pillow's values: 16-bit samples (Pillow
// keeps the high byte, or clips 16-bit grey — mode "I" — to 0..255; browsers round to 8 bits) and alpha (a 2-D
// canvas premultiplies, and Pillow's LA -> RGB drops alpha where a browser has already lost the grey of
// transparent pixels). Bit depths 8 and 16 of grey, RGB, grey+alpha and RGBA, interlaced or not; the inflate is
// the platform's DecompressionStream. Also: the chunk walk that strips tRNS (Pillow's convert("RGB") ignores
// it). Platform-neutral (no Node APIs). Malformed files end in ImageError.
import { crc32 } from '../util/crc32.js';
import { ImageError } from './errors.js';
import { PILLOW_MAX_PIXELS, type DecodedImage } from './image.js';

export interface PngHeader {
  width: number;
  height: number;
  bitDepth: number;
  colourType: number;
  interlaced: boolean;
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const be32 = (b: Uint8Array, o: number) => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
/** Samples per pixel by colour type (3, palette, is not decoded here). */
const SAMPLES: Readonly<Record<number, number>> = { 0: 1, 2: 3, 4: 2, 6: 4 };

interface Chunk { type: string; start: number; data: Uint8Array }

/** The chunks up to IEND (or the end of the file), CRCs checked; ImageError when one runs past the end. */
function chunks(bytes: Uint8Array): Chunk[] {
  const out: Chunk[] = [];
  let i = 8;
  while (i + 12 <= bytes.length) {
    const len = be32(bytes, i);
    const type = String.fromCharCode(...bytes.subarray(i + 4, i + 8));
    if (len > 0x7fffffff || i + 12 + len > bytes.length) throw new ImageError('decode', `cannot decode PNG: chunk ${JSON.stringify(type)} of ${len} bytes runs past the end of the file`);
    if (crc32(bytes, i + 4, i + 8 + len) !== be32(bytes, i + 8 + len)) throw new ImageError('decode', `cannot decode PNG: broken PNG file (bad CRC in chunk ${JSON.stringify(type)})`);
    out.push({ type, start: i, data: bytes.subarray(i + 8, i + 8 + len) });
    i += 12 + len;
    if (type === 'IEND') break;
  }
  return out;
}

/** The IHDR fields, or null when the bytes do not start with the PNG signature. */
export function readPngHeader(bytes: Uint8Array): PngHeader | null {
  if (bytes.length < 8 || !SIGNATURE.every((v, i) => bytes[i] === v)) return null;
  if (bytes.length < 33 || be32(bytes, 8) !== 13 || String.fromCharCode(...bytes.subarray(12, 16)) !== 'IHDR') {
    throw new ImageError('decode', 'cannot decode PNG: no IHDR chunk after the signature');
  }
  return { width: be32(bytes, 16), height: be32(bytes, 20), bitDepth: bytes[24]!, colourType: bytes[25]!, interlaced: bytes[28] === 1 };
}

/** Deflate's largest expansion ratio (a 258-byte match in two bits). */
const MAX_INFLATE_RATIO = 1032;

/**
 * Throws ImageError('decode') when `bytes` is a PNG whose IHDR claims more scanline bytes than the file can inflate
 * to: such a file is truncated or corrupt, and libvips spent seconds (and hundreds of MB) on a 500-byte one claiming
 * 8,388,620 x 9 pixels before its read error (found by `npm run fuzz`). Not a PNG, or an unknown colour type (the
 * decoder names it): nothing to check.
 */
export function checkPngSizeBound(bytes: Uint8Array): void {
  const h = readPngHeader(bytes);
  if (!h) return;
  const channels = h.colourType === 3 ? 1 : SAMPLES[h.colourType];
  if (channels === undefined) return;
  // Non-interlaced size: a lower bound (Adam7 adds a filter byte per pass row).
  const scanlineBytes = h.height * (1 + Math.ceil((h.width * channels * h.bitDepth) / 8));
  if (scanlineBytes > bytes.length * MAX_INFLATE_RATIO) {
    throw new ImageError('decode', `cannot decode image: PNG of ${h.width}x${h.height} pixels needs ${scanlineBytes} bytes of scanlines, ` +
      `more than its ${bytes.length} bytes can hold: truncated or corrupt file`);
  }
}

/** The file without its tRNS chunks (a copy), or the bytes themselves when there is none. */
export function withoutPngTransparency(bytes: Uint8Array): Uint8Array {
  const trns = chunks(bytes).filter((c) => c.type === 'tRNS');
  if (trns.length === 0) return bytes;
  const parts: Uint8Array[] = [];
  let from = 0;
  for (const c of trns) {
    parts.push(bytes.subarray(from, c.start));
    from = c.start + 12 + c.data.length;
  }
  parts.push(bytes.subarray(from));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/** Inflates a zlib stream, stopping once `want` bytes came out; fewer is an error (a truncated image). */
async function inflate(data: Uint8Array, want: number): Promise<Uint8Array> {
  const out = new Uint8Array(want);
  let got = 0;
  const reader = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('deflate')).getReader();
  try {
    while (got < want) {
      const { done, value } = await reader.read();
      if (done) break;
      out.set(value.subarray(0, want - got), got);
      got += Math.min(value.length, want - got);
    }
  } catch (e) {
    // Like Pillow's zlib reader, damage after the last pixel row does not matter.
    if (got < want) throw new ImageError('decode', `cannot decode PNG: corrupt image data (${(e as Error).message})`);
  } finally {
    reader.cancel().catch(() => {});
  }
  if (got < want) throw new ImageError('decode', `cannot decode PNG: image file is truncated (${got} of ${want} bytes of pixel data)`);
  return out;
}

/** Adam7 passes as [x0, y0, dx, dy]; a non-interlaced image is one pass [0, 0, 1, 1]. */
const ADAM7 = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]] as const;

/**
 * Decodes an 8- or 16-bit grey, RGB, grey+alpha or RGBA PNG into what Pillow 9.4 opens: L ("I" clipped to
 * 0..255 for 16-bit grey), RGB, LA (8-bit) or RGBA (16-bit grey+alpha, as Pillow's "LA;16B"), 16-bit samples
 * reduced to their high byte. Palettes and 1/2/4-bit grey are 'unsupported' here (browsers read them exactly).
 */
export async function decodePng(bytes: Uint8Array, opts: { maxPixels?: number } = {}): Promise<DecodedImage> {
  const h = readPngHeader(bytes);
  if (!h) throw new ImageError('decode', 'cannot decode PNG: not a PNG file');
  const { width, height, bitDepth, colourType, interlaced } = h;
  const samples = SAMPLES[colourType];
  if (samples === undefined || (bitDepth !== 8 && bitDepth !== 16)) {
    throw new ImageError('unsupported', `PNG of colour type ${colourType} at ${bitDepth} bits is not decoded in code`);
  }
  if (bytes[26] !== 0 || bytes[27] !== 0 || bytes[28]! > 1) throw new ImageError('decode', 'cannot decode PNG: unknown compression, filter or interlace method');
  if (width < 1 || height < 1 || width > 0x7fffffff || height > 0x7fffffff) throw new ImageError('bad_size', `PNG of ${width}x${height} pixels is empty or too large`);
  const maxPixels = opts.maxPixels ?? PILLOW_MAX_PIXELS;
  if (width * height > maxPixels) throw new ImageError('too_large', `image of ${width}x${height} pixels exceeds the limit of ${maxPixels} pixels`);

  const all = chunks(bytes);
  const idat = all.filter((c) => c.type === 'IDAT');
  if (idat.length === 0) throw new ImageError('decode', 'cannot decode PNG: no image data (IDAT)');
  const compressed = new Uint8Array(idat.reduce((n, c) => n + c.data.length, 0));
  let at = 0;
  for (const c of idat) { compressed.set(c.data, at); at += c.data.length; }

  const bpp = (samples * bitDepth) / 8; // bytes per pixel (>= 1 at 8 and 16 bits)
  const passes = (interlaced ? ADAM7 : [[0, 0, 1, 1] as const]).map(([x0, y0, dx, dy]) => ({
    x0, y0, dx, dy, w: Math.ceil((width - x0) / dx), h: Math.ceil((height - y0) / dy),
  })).filter((p) => p.w > 0 && p.h > 0);
  const want = passes.reduce((n, p) => n + p.h * (1 + p.w * bpp), 0);
  const raw = await inflate(compressed, want);

  const outCh = colourType === 0 ? 1 : colourType === 2 ? 3 : colourType === 4 && bitDepth === 8 ? 2 : 4;
  const out = new Uint8Array(width * height * outCh);
  let pos = 0;
  for (const p of passes) {
    const rowBytes = p.w * bpp;
    let prev: Uint8Array = new Uint8Array(rowBytes);
    for (let y = 0; y < p.h; y++) {
      const filter = raw[pos]!;
      const row = raw.subarray(pos + 1, pos + 1 + rowBytes);
      pos += 1 + rowBytes;
      unfilter(filter, row, prev, bpp);
      prev = row;
      const oy = p.y0 + y * p.dy;
      for (let x = 0; x < p.w; x++) {
        const o = (oy * width + p.x0 + x * p.dx) * outCh;
        const s = x * bpp;
        if (bitDepth === 8) {
          for (let c = 0; c < outCh; c++) out[o + c] = row[s + c]!;
        } else if (colourType === 0) {
          out[o] = Math.min((row[s]! << 8) | row[s + 1]!, 255); // mode "I" -> RGB clips
        } else if (colourType === 4) {
          out[o] = out[o + 1] = out[o + 2] = row[s]!; // "LA;16B" -> RGBA: high bytes
          out[o + 3] = row[s + 2]!;
        } else {
          for (let c = 0; c < outCh; c++) out[o + c] = row[s + 2 * c]!; // high bytes
        }
      }
    }
  }
  return { width, height, channels: outCh as 1 | 2 | 3 | 4, data: out };
}

/** Undoes one row's PNG filter in place (`prev` is the previous row of the pass, unfiltered, or zeros). */
function unfilter(filter: number, row: Uint8Array, prev: Uint8Array, bpp: number): void {
  const n = row.length;
  switch (filter) {
    case 0:
      return;
    case 1:
      for (let i = bpp; i < n; i++) row[i] = (row[i]! + row[i - bpp]!) & 0xff;
      return;
    case 2:
      for (let i = 0; i < n; i++) row[i] = (row[i]! + prev[i]!) & 0xff;
      return;
    case 3:
      for (let i = 0; i < n; i++) row[i] = (row[i]! + (((i >= bpp ? row[i - bpp]! : 0) + prev[i]!) >> 1)) & 0xff;
      return;
    case 4:
      for (let i = 0; i < n; i++) {
        const a = i >= bpp ? row[i - bpp]! : 0;
        const b = prev[i]!;
        const c = i >= bpp ? prev[i - bpp]! : 0;
        const pa = Math.abs(b - c);
        const pb = Math.abs(a - c);
        const pc = Math.abs(a + b - 2 * c);
        row[i] = (row[i]! + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 0xff;
      }
      return;
    default:
      throw new ImageError('decode', `cannot decode PNG: unknown row filter type ${filter}`);
  }
}
