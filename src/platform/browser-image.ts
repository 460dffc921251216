// Image decoding in the browser, as the chat session's ImageDecoder: createImageBitmap with every conversion off
// (no colour management, no premultiplication, no EXIF rotation — Pillow applies none of them; browsers rotate
// regardless of imageOrientation, so the orientation tag is neutralised in a copy of the bytes first, see
// exif-orientation.ts), then the pixels read back through an OffscreenCanvas.
//
// Exactness: opaque images (RGB, grey, palette, RGBA whose alpha is all 255) come back with the file's exact
// 8-bit values. A 2-D canvas stores premultiplied alpha, so pixels with partial alpha are rounded on the way
// through (a pixel with alpha 0 loses its colour entirely); such RGBA/LA images may differ from Pillow's by
// rounding; a palette PNG with transparency comes back as RGBA (Pillow's P -> RGB ignores it). 16-bit PNGs are
// reduced to 8 bits by the browser's rounding, not by Pillow's "keep the high byte". JPEGs go through the browser's
// libjpeg-turbo build, which may round differently from Pillow's.
import { ImageError } from '../preprocess/errors.js';
import type { DecodedImage, ImageDecoder } from '../preprocess/image.js';
import { withoutExifOrientation } from './exif-orientation.js';

/** PNG colour type from the IHDR chunk, or null when `bytes` is not a PNG. */
function pngColourType(bytes: Uint8Array): number | null {
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length < 26 || !sig.every((b, i) => bytes[i] === b)) return null;
  return bytes[25]!;
}

/** RGBA pixels (straight alpha as the canvas reports it) -> the channel layout Pillow would open. */
function toDecoded(rgba: Uint8ClampedArray, width: number, height: number, colourType: number | null): DecodedImage {
  const n = width * height;
  let opaque = true;
  for (let i = 3; i < rgba.length; i += 4) if (rgba[i] !== 255) { opaque = false; break; }
  // Grey and grey+alpha PNGs: Pillow opens them as L / LA (LA's convert("RGB") drops alpha, unlike RGBA's).
  if (colourType === 0 || colourType === 4) {
    const ch = colourType === 4 && !opaque ? 2 : 1;
    const data = new Uint8Array(n * ch);
    for (let p = 0; p < n; p++) {
      data[p * ch] = rgba[p * 4]!;
      if (ch === 2) data[p * 2 + 1] = rgba[p * 4 + 3]!;
    }
    return { width, height, channels: ch, data };
  }
  if (opaque) {
    const data = new Uint8Array(n * 3);
    for (let p = 0; p < n; p++) {
      data[p * 3] = rgba[p * 4]!;
      data[p * 3 + 1] = rgba[p * 4 + 1]!;
      data[p * 3 + 2] = rgba[p * 4 + 2]!;
    }
    return { width, height, channels: 3, data };
  }
  return { width, height, channels: 4, data: new Uint8Array(rgba.buffer, rgba.byteOffset, rgba.byteLength) };
}

/** Decode image file bytes (PNG, JPEG, WebP, GIF's first frame, ... whatever the browser reads). */
export async function decodeImageBytes(bytes: Uint8Array, name = 'image'): Promise<DecodedImage> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(new Blob([withoutExifOrientation(bytes) as Uint8Array<ArrayBuffer>]), {
      colorSpaceConversion: 'none', premultiplyAlpha: 'none', imageOrientation: 'none' as ImageOrientation,
    });
  } catch (e) {
    throw new ImageError('decode', `${name}: cannot decode image: ${(e as Error).message}`);
  }
  try {
    const { width, height } = bitmap;
    if (width < 1 || height < 1) throw new ImageError('bad_size', `${name}: decoded to an empty ${width}x${height} image`);
    const canvas = new OffscreenCanvas(width, height);
    // willReadFrequently: a CPU-backed canvas, read back without a GPU round trip.
    const ctx = canvas.getContext('2d', { colorSpace: 'srgb', willReadFrequently: true });
    if (!ctx) throw new ImageError('unsupported', `${name}: no 2-D canvas context in this browser`);
    ctx.drawImage(bitmap, 0, 0);
    const px = ctx.getImageData(0, 0, width, height, { colorSpace: 'srgb' });
    return toDecoded(px.data, width, height, pngColourType(bytes));
  } finally {
    bitmap.close();
  }
}

/** The ChatSession's ImageDecoder for browsers. */
export const browserImageDecoder: ImageDecoder = { decode: decodeImageBytes };
