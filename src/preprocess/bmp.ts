// Windows BMP decoding, the product's own (sharp/libvips has no BMP loader; browsers read BMP with their own
// alpha and palette rules). Reproduces what Pillow 9.4's BmpImagePlugin gives, as the reference opens BMP files
// with it: headers of 12 (OS/2 v1), 40, 64, 108 and 124 bytes; 1/4/8-bit palettes (BI_RGB, RLE8, RLE4), 16-bit
// 5-5-5, 24-bit and 32-bit BI_RGB (the 4th byte ignored), BI_BITFIELDS with the masks Pillow knows (a 32-bit
// alpha mask makes it RGBA); bottom-up and top-down rows. Platform-neutral (no Node APIs): both the Node and the
// browser decoders use it. Everything Pillow rejects, and the few layouts it silently misreads, end in ImageError.
import { ImageError } from './errors.js';
import { PILLOW_MAX_PIXELS, type DecodedImage } from './image.js';

const BI_RGB = 0;
const BI_RLE8 = 1;
const BI_RLE4 = 2;
const BI_BITFIELDS = 3;

/** True when the bytes start like a BMP file ("BM"). */
export function isBmp(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x42 && bytes[1] === 0x4d;
}

/** Byte positions of R, G, B (and A, or -1) inside a 32-bit pixel, for the BITFIELDS masks Pillow accepts. */
const MASKS_32: ReadonlyArray<{ masks: readonly number[]; order: readonly [number, number, number, number] }> = [
  { masks: [0xff0000, 0xff00, 0xff, 0], order: [2, 1, 0, -1] }, // BGRX
  { masks: [0xff000000, 0xff0000, 0xff00, 0], order: [3, 2, 1, -1] }, // XBGR
  { masks: [0xff000000, 0xff0000, 0xff00, 0xff], order: [3, 2, 1, 0] }, // ABGR
  { masks: [0xff, 0xff00, 0xff0000, 0xff000000], order: [0, 1, 2, 3] }, // RGBA
  { masks: [0xff0000, 0xff00, 0xff, 0xff000000], order: [2, 1, 0, 3] }, // BGRA
  { masks: [0, 0, 0, 0], order: [2, 1, 0, 3] }, // Pillow reads all-zero masks as BGRA
];

type Layout =
  | { kind: 'palette'; bits: 1 | 4 | 8; rle: false | 'rle4' | 'rle8' }
  | { kind: 'rgb16'; greenBits: 5 | 6 }
  | { kind: 'bgr24' }
  | { kind: 'rgb32'; order: readonly [number, number, number, number] };

/**
 * Decodes a BMP file into 8-bit channels: palette images come back as RGB (Pillow's P/L/1 -> RGB gives
 * the palette's colours), 32-bit images with an alpha mask as RGBA (straight alpha), all others as RGB.
 */
export function decodeBmp(bytes: Uint8Array, opts: { maxPixels?: number } = {}): DecodedImage {
  const fail = (why: string): never => {
    throw new ImageError('decode', `cannot decode BMP: ${why}`);
  };
  const unsupported = (why: string): never => {
    throw new ImageError('unsupported', `unsupported BMP: ${why}`);
  };
  if (!isBmp(bytes)) fail('not a BMP file (no "BM" signature)');
  const u16 = (o: number) => bytes[o]! | (bytes[o + 1]! << 8);
  const u32 = (o: number) => (bytes[o]! | (bytes[o + 1]! << 8) | (bytes[o + 2]! << 16) | (bytes[o + 3]! << 24)) >>> 0;
  if (bytes.length < 18) fail(`file of ${bytes.length} bytes ends inside the file header`);
  let dataOffset = u32(10);
  const headerSize = u32(14);
  const h = 14; // the info header starts after the 14-byte file header
  if (![12, 40, 64, 108, 124].includes(headerSize)) unsupported(`header type of ${headerSize} bytes (known: 12, 40, 64, 108, 124)`);
  if (h + headerSize > bytes.length) fail(`file of ${bytes.length} bytes ends inside its ${headerSize}-byte info header`);

  let width: number, height: number, bits: number, compression: number, colours: number, topDown: boolean;
  let paletteEntryBytes: 3 | 4;
  let masks: number[] | null = null;
  let pos = h + headerSize; // what follows the header: bitfield masks (40-byte header) and the palette
  if (headerSize === 12) {
    width = u16(h + 4);
    height = u16(h + 6);
    bits = u16(h + 10);
    compression = BI_RGB;
    colours = 0;
    topDown = false;
    paletteEntryBytes = 3;
  } else {
    width = u32(h + 4);
    // Pillow takes the height as negative (top-down rows) only when its top byte is 0xFF.
    topDown = bytes[h + 11] === 0xff;
    height = topDown ? 2 ** 32 - u32(h + 8) : u32(h + 8);
    bits = u16(h + 14);
    compression = u32(h + 16);
    colours = u32(h + 32);
    paletteEntryBytes = 4;
    if (compression === BI_BITFIELDS) {
      if (headerSize >= 56) {
        masks = [u32(h + 40), u32(h + 44), u32(h + 48), u32(h + 52)];
      } else {
        // A 40-byte header is followed by three masks; the 4th RGBQUAD byte is reserved, not alpha.
        if (pos + 12 > bytes.length) fail('file ends inside its bitfield masks');
        masks = [u32(pos), u32(pos + 4), u32(pos + 8), 0];
        pos += 12;
      }
    }
  }
  if (colours === 0) colours = 2 ** bits;
  if (width < 1 || height < 1) throw new ImageError('bad_size', `BMP of ${width}x${height} pixels is empty`);
  const maxPixels = opts.maxPixels ?? PILLOW_MAX_PIXELS;
  if (width * height > maxPixels) {
    throw new ImageError('too_large', `image of ${width}x${height} pixels exceeds the limit of ${maxPixels} pixels`);
  }
  // When the pixel data is said to start right after the header, Pillow skips a 4-byte palette first.
  if (dataOffset === 14 + headerSize && bits <= 8) dataOffset += 4 * colours;

  let layout: Layout;
  if (compression === BI_BITFIELDS) {
    const m = masks!;
    const same = (a: readonly number[], n: number) => a.slice(0, n).every((v, i) => v === m[i]);
    const m32 = bits === 32 ? MASKS_32.find((x) => same(x.masks, 4)) : undefined;
    if (m32) layout = { kind: 'rgb32', order: m32.order };
    else if (bits === 24 && same([0xff0000, 0xff00, 0xff], 3)) layout = { kind: 'bgr24' };
    else if (bits === 16 && same([0xf800, 0x7e0, 0x1f], 3)) layout = { kind: 'rgb16', greenBits: 6 };
    else if (bits === 16 && same([0x7c00, 0x3e0, 0x1f], 3)) layout = { kind: 'rgb16', greenBits: 5 };
    else layout = unsupported(`${bits}-bit bitfields layout (masks ${m.map((v) => `0x${v.toString(16)}`).join(', ')})`);
  } else if (compression === BI_RGB || compression === BI_RLE8 || compression === BI_RLE4) {
    // Pillow picks RLE4 or RLE8 by the compression alone, whatever the depth; > 8 bits then fail to unpack.
    const rle = compression === BI_RLE4 ? 'rle4' : compression === BI_RLE8 ? 'rle8' : false;
    if (bits === 1 || bits === 4 || bits === 8) layout = { kind: 'palette', bits, rle };
    else if (rle) layout = unsupported(`RLE compression of ${bits}-bit pixels`);
    else if (bits === 16) layout = { kind: 'rgb16', greenBits: 5 };
    else if (bits === 24) layout = { kind: 'bgr24' };
    else if (bits === 32) layout = { kind: 'rgb32', order: [2, 1, 0, -1] };
    else layout = unsupported(`pixel depth of ${bits} bits`);
  } else {
    layout = unsupported(`compression type ${compression}`);
  }

  // The palette: `colours` entries of B, G, R (and a pad byte), read from right after the header (and masks).
  // Entries the file does not define keep Pillow's initial grey ramp (i, i, i).
  let palette: Uint8Array | null = null;
  if (layout.kind === 'palette') {
    if (colours > 256) unsupported(`palette of ${colours} colours (at most 256)`);
    if (pos + colours * paletteEntryBytes > bytes.length) fail(`file ends inside its palette of ${colours} colours`);
    palette = new Uint8Array(256 * 3);
    for (let i = 0; i < 256; i++) palette[i * 3] = palette[i * 3 + 1] = palette[i * 3 + 2] = i;
    let grey = true;
    for (let i = 0; i < colours; i++) {
      const e = pos + i * paletteEntryBytes;
      palette[i * 3] = bytes[e + 2]!;
      palette[i * 3 + 1] = bytes[e + 1]!;
      palette[i * 3 + 2] = bytes[e]!;
      // Pillow's greyscale test: 2 colours must be black and white, N colours must be the ramp 0..N-1.
      const want = colours === 2 ? [0, 255][i]! : i;
      if (bytes[e] !== want || bytes[e + 1] !== want || bytes[e + 2] !== want) grey = false;
    }
    // A greyscale palette makes Pillow read the pixels as mode "1" (2 colours) or "L": right for 1-bit BI_RGB and
    // for "L" with 8-bit or RLE pixels; otherwise Pillow 9.4 fails or misreads the rows, so these are refused.
    if (grey) {
      const ok = colours === 2 ? layout.bits === 1 && !layout.rle : layout.bits === 8 || layout.rle;
      if (!ok) unsupported(`${layout.bits}-bit ${layout.rle ? `${layout.rle.toUpperCase()} ` : ''}image with a ${colours}-entry greyscale palette (Pillow 9.4 cannot read it)`);
    }
  }

  const rgba = layout.kind === 'rgb32' && layout.order[3] >= 0;
  const channels = rgba ? 4 : 3;
  if (dataOffset > bytes.length) fail(`pixel data offset ${dataOffset} is past the end of the ${bytes.length}-byte file`);

  if (layout.kind === 'palette' && layout.rle) {
    const data = decodeRle(bytes, dataOffset, width, height, topDown, palette!, layout.rle === 'rle4', fail);
    return { width, height, channels, data };
  }

  const bitsPerPixel = layout.kind === 'palette' ? layout.bits : layout.kind === 'rgb16' ? 16 : layout.kind === 'bgr24' ? 24 : 32;
  const stride = Math.floor((width * bitsPerPixel + 31) / 32) * 4;
  const rowBytes = Math.ceil((width * bitsPerPixel) / 8);
  // Pillow needs every row but the last row's padding.
  const need = stride * (height - 1) + rowBytes;
  if (bytes.length - dataOffset < need) {
    fail(`image file is truncated: ${width}x${height} ${bitsPerPixel}-bit pixels need ${need} bytes after offset ${dataOffset}, the file has ${bytes.length - dataOffset}`);
  }
  const out = new Uint8Array(width * height * channels);
  for (let row = 0; row < height; row++) {
    const src = dataOffset + row * stride;
    const y = topDown ? row : height - 1 - row;
    let o = y * width * channels;
    for (let x = 0; x < width; x++, o += channels) {
      switch (layout.kind) {
        case 'palette': {
          const bitPos = x * layout.bits;
          const byte = bytes[src + (bitPos >> 3)]!;
          const index = (byte >> (8 - layout.bits - (bitPos & 7))) & ((1 << layout.bits) - 1);
          putPalette(out, o, palette!, index);
          break;
        }
        case 'rgb16': {
          // Pillow's BGR;15 / BGR;16 unpackers: v * 255 / max, truncated.
          const p = u16(src + x * 2);
          const g = layout.greenBits;
          out[o] = Math.floor(((p >> (5 + g)) & 31) * 255 / 31);
          out[o + 1] = Math.floor(((p >> 5) & ((1 << g) - 1)) * 255 / ((1 << g) - 1));
          out[o + 2] = Math.floor((p & 31) * 255 / 31);
          break;
        }
        case 'bgr24':
          out[o] = bytes[src + x * 3 + 2]!;
          out[o + 1] = bytes[src + x * 3 + 1]!;
          out[o + 2] = bytes[src + x * 3]!;
          break;
        case 'rgb32': {
          const s = src + x * 4;
          for (let c = 0; c < channels; c++) out[o + c] = bytes[s + layout.order[c]!]!;
          break;
        }
      }
    }
  }
  return { width, height, channels, data: out };
}

function putPalette(out: Uint8Array, o: number, palette: Uint8Array, index: number): void {
  out[o] = palette[index * 3]!;
  out[o + 1] = palette[index * 3 + 1]!;
  out[o + 2] = palette[index * 3 + 2]!;
}

/**
 * RLE8/RLE4 pixel data -> RGB pixels, as Pillow 9.4's BmpRleDecoder reads the palette indices (runs clipped at the
 * row end, absolute runs not; an odd RLE4 absolute run loses its last pixel; padding to 16-bit words counted from
 * the start of the file; a delta takes its offsets from the 2 bytes after the 2 it should) and P -> RGB converts
 * them. Data that stops early is an error, as in Pillow.
 *
 * The colours go straight into the output, and the pixels the stream skips (end of line, delta: index 0 in
 * Pillow) get palette[0] from one pattern fill of the whole image up front, so the cost follows the file's size,
 * not the image's: a 169-byte RLE4 file of 33,554,445 x 3 pixels found by `npm run fuzz` took 2.8 s when every
 * pixel went through an index array and a per-pixel palette lookup.
 */
function decodeRle(
  bytes: Uint8Array, start: number, width: number, height: number, topDown: boolean, palette: Uint8Array, rle4: boolean,
  fail: (why: string) => never,
): Uint8Array {
  const total = width * height;
  // A dry pass first: a stream that gives too few pixels fails before hundreds of MB are allocated and filled.
  const produced = replay(null);
  if (produced < total) fail(`not enough image data: the RLE stream gives ${produced} of ${total} pixels`);
  const out = new Uint8Array(total * 3); // zeros: right as it is when palette[0] is black
  if (palette[0] !== 0 || palette[1] !== 0 || palette[2] !== 0) fillPattern(out, palette.subarray(0, 3));
  replay(out);
  return out;

  /** Runs the stream, writing the pixels into `out` (null: only counting them); returns Pillow's len(data). */
  function replay(out: Uint8Array | null): number {
    // n: indices produced so far (Pillow's len(data)); writes past `total` are dropped. o: where pixel n goes in
    // `out` (rows flipped unless top-down); col: n's column.
    let n = 0;
    let o = 0;
    let col = 0;
    const seek = (to: number) => {
      n = to;
      if (n >= total || !out) return;
      const row = Math.floor(n / width);
      col = n - row * width;
      o = ((topDown ? row : height - 1 - row) * width + col) * 3;
    };
    const push = (index: number) => {
      if (n >= total || !out) {
        n++;
        return;
      }
      out[o] = palette[index * 3]!;
      out[o + 1] = palette[index * 3 + 1]!;
      out[o + 2] = palette[index * 3 + 2]!;
      o += 3;
      if (++col === width) seek(n + 1);
      else n++;
    };
    seek(0);
    let x = 0;
    let p = start;
    while (n < total) {
      if (p + 2 > bytes.length) break;
      let count = bytes[p]!;
      const byte = bytes[p + 1]!;
      p += 2;
      if (count > 0) {
        // Encoded run.
        if (x + count > width) count = Math.max(0, width - x);
        if (rle4) for (let i = 0; i < count; i++) push(i % 2 === 0 ? byte >> 4 : byte & 15);
        else for (let i = 0; i < count; i++) push(byte);
        x += count;
      } else if (byte === 0) {
        // End of line: index 0 up to the row boundary (already there).
        if (n % width !== 0) seek(Math.ceil(n / width) * width);
        x = 0;
      } else if (byte === 1) {
        break; // end of bitmap
      } else if (byte === 2) {
        // Delta: skip `right` pixels and `up` rows (index 0, already there). Pillow 9.4 reads two bytes, drops them
        // and takes right/up from the next two; the reference sees that, so it is reproduced.
        if (p + 2 > bytes.length) break;
        p += 2;
        if (p + 2 > bytes.length) fail('RLE delta is cut short');
        const skip = bytes[p]! + bytes[p + 1]! * width;
        p += 2;
        seek(Math.min(n + skip, total));
        x = n % width;
      } else {
        // Absolute run of `byte` pixels.
        const byteCount = rle4 ? byte >> 1 : byte;
        const avail = Math.min(byteCount, bytes.length - p);
        for (let i = 0; i < avail; i++) {
          const v = bytes[p + i]!;
          if (rle4) {
            push(v >> 4);
            push(v & 15);
          } else {
            push(v);
          }
        }
        p += avail;
        if (avail < byteCount) break;
        x += byte;
        if (p % 2 !== 0) p++;
      }
    }
    return n;
  }
}

/** Fills `out` with copies of `pattern` (its length must divide out's), doubling the filled part each step. */
function fillPattern(out: Uint8Array, pattern: Uint8Array): void {
  if (out.length === 0) return;
  out.set(pattern);
  for (let filled = pattern.length; filled < out.length; filled *= 2) out.copyWithin(filled, 0, Math.min(filled, out.length - filled));
}
