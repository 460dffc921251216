// Image decoding in the browser, as the chat session's ImageDecoder. What the browser cannot give with Pillow 9.4's
// values is decoded in code (src/preprocess, shared with Node where it applies): BMP files (bmp.ts), PNGs with 16-bit
// samples or an alpha channel (png.ts: a 2-D canvas premultiplies alpha and rounds 16-bit samples, Pillow keeps the
// high byte, clips mode "I" and drops LA's alpha), CMYK JPEGs (jpeg.ts + cmyk.ts: Chromium converts CMYK with c·k/255
// truncated, Pillow rounds). PNG tRNS chunks and GIF transparency flags are removed before the
// browser sees the file (Pillow's convert("RGB") ignores them). Everything else goes through createImageBitmap with every conversion
// off (no colour management, no premultiplication, no EXIF rotation — Pillow applies none of them; browsers rotate
// regardless of imageOrientation, so the orientation tag is neutralised in a copy of the bytes first, see
// exif-orientation.ts), then the pixels read back through an OffscreenCanvas.
//
// Exactness (docs/IMAGES.md has the per-case table): every golden case matches Pillow byte for byte in Chromium.
// Left to the browser and not exact: YCCK and subsampled or arithmetic-coded CMYK JPEGs (1 lower where K is not 0).
import { decodeBmp, isBmp } from '../preprocess/bmp.js';
import { cmykToRgb } from '../preprocess/cmyk.js';
import { ImageError } from '../preprocess/errors.js';
import { withoutGifTransparency } from '../preprocess/gif.js';
import type { DecodedImage, ImageDecoder } from '../preprocess/image.js';
import { decodeJpegSamples, readJpegFrame } from '../preprocess/jpeg.js';
import { decodePng, readPngHeader, withoutPngTransparency } from '../preprocess/png.js';
import { withoutExifOrientation } from './exif-orientation.js';

/** RGBA pixels (straight alpha as the canvas reports it) -> the channel layout Pillow would open. */
function toDecoded(rgba: Uint8ClampedArray, width: number, height: number, colourType: number | null): DecodedImage {
  const n = width * height;
  let opaque = true;
  for (let i = 3; i < rgba.length; i += 4) if (rgba[i] !== 255) { opaque = false; break; }
  // Grey PNGs (8-bit or less; opaque once tRNS is stripped): Pillow opens them as L.
  if (colourType === 0 && opaque) {
    const data = new Uint8Array(n);
    for (let p = 0; p < n; p++) data[p] = rgba[p * 4]!;
    return { width, height, channels: 1, data };
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

/** Decode image file bytes (PNG, JPEG, WebP, GIF's first frame, BMP, ... whatever the browser reads). */
export async function decodeImageBytes(bytes: Uint8Array, name = 'image'): Promise<DecodedImage> {
  try {
    if (isBmp(bytes)) return decodeBmp(bytes);
    const jpeg = readJpegFrame(bytes);
    if (jpeg?.components === 4 && jpeg.adobeTransform !== 2) {
      const cmyk = decodeCmykJpeg(bytes);
      if (cmyk) return cmyk;
    }
    const png = readPngHeader(bytes);
    if (png && (png.bitDepth === 16 || png.colourType === 4 || png.colourType === 6)) return await decodePng(bytes);
    bytes = png ? withoutPngTransparency(bytes) : withoutGifTransparency(bytes);
    return await decodeWithBrowser(bytes, name, png?.colourType ?? null);
  } catch (e) {
    if (e instanceof ImageError && !e.message.startsWith(`${name}: `)) throw new ImageError(e.code, `${name}: ${e.message}`);
    throw e;
  }
}

/**
 * A CMYK JPEG decoded in code (jpeg.ts: libjpeg's samples, which Pillow inverts) and converted with Pillow's
 * formula; null for the layouts jpeg.ts leaves to the browser (subsampled components, arithmetic coding), whose
 * CMYK conversion may then be 1 lower than Pillow's where K is not 0.
 */
function decodeCmykJpeg(bytes: Uint8Array): DecodedImage | null {
  let s;
  try {
    s = decodeJpegSamples(bytes);
  } catch (e) {
    if (e instanceof ImageError && e.code === 'unsupported') return null;
    throw e;
  }
  const n = s.width * s.height;
  const cmyk = new Uint8Array(n * 4);
  for (let k = 0; k < 4; k++) {
    const plane = s.planes[k]!;
    for (let i = 0; i < n; i++) cmyk[i * 4 + k] = plane[i]!;
  }
  return cmykToRgb(cmyk, s.width, s.height, true);
}

async function decodeWithBrowser(bytes: Uint8Array, name: string, pngColourType: number | null): Promise<DecodedImage> {
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
    return toDecoded(px.data, width, height, pngColourType);
  } finally {
    bitmap.close();
  }
}

/** The ChatSession's ImageDecoder for browsers. */
export const browserImageDecoder: ImageDecoder = { decode: decodeImageBytes };
