import { readFile } from 'node:fs/promises';
import sharp, { type Metadata } from 'sharp';
import { decodeBmp, isBmp } from '../preprocess/bmp.js';
import { cmykToRgb } from '../preprocess/cmyk.js';
import { ImageError } from '../preprocess/errors.js';
import { withoutGifTransparency } from '../preprocess/gif.js';
import { checkImage, type DecodedImage } from '../preprocess/image.js';
import { checkPngSizeBound } from '../preprocess/png.js';

/**
 * Decode an image file the way Pillow 9.4 `Image.open` presents it, as 8-bit channels:
 * L (1), LA (2), RGB (3), RGBA (4). No EXIF orientation, no ICC colour conversion (Pillow applies
 * neither). Pillow's 16-bit PNG handling is reproduced: 16-bit RGB(A) -> high byte; 16-bit grey+alpha
 * -> RGBA from high bytes; 16-bit grey opens as mode "I" whose convert("RGB") clips to 0..255, so it
 * is returned as L with clipped values. Palette images are returned as RGB (Pillow's P->RGB
 * conversion ignores tRNS transparency). CMYK JPEGs are returned as RGB by Pillow's own formula (cmyk.ts);
 * BMP files (which libvips cannot read) go through the product's BMP decoder (bmp.ts); a GIF's transparent index
 * shows its palette colour, as in Pillow's P -> RGB (gif.ts).
 */
export async function decodeImageBuffer(buf: Uint8Array, opts: { maxPixels?: number } = {}): Promise<DecodedImage> {
  if (isBmp(buf)) return decodeBmp(buf, opts);
  buf = withoutGifTransparency(buf);
  let meta: Metadata;
  try {
    meta = await sharp(buf).metadata();
  } catch (e) {
    throw new ImageError('decode', `cannot identify image file: ${(e as Error).message}`);
  }
  const { width, height, channels: srcCh, depth, space } = meta;
  if (width === undefined || height === undefined || srcCh === undefined) {
    throw new ImageError('decode', 'cannot identify image file: no size in header');
  }
  // Checked on the header, before the pixels are decoded into memory.
  if (opts.maxPixels !== undefined && width * height > opts.maxPixels) {
    throw new ImageError('too_large', `image of ${width}x${height} pixels exceeds the limit of ${opts.maxPixels} pixels`);
  }
  checkPngSizeBound(buf);
  if (space === 'cmyk' && meta.format === 'jpeg' && srcCh === 4 && depth === 'uchar') return decodeCmykJpeg(buf, width, height);
  if (space === 'cmyk' || srcCh > 4) {
    throw new ImageError('unsupported', `unsupported image colour space ${space} with ${srcCh} channels`);
  }
  const wide = depth === 'ushort';
  if (depth !== 'uchar' && !wide && depth !== 'char') {
    throw new ImageError('unsupported', `unsupported sample format ${depth}`);
  }
  let raw: Buffer;
  let rawCh: number;
  try {
    // Always ask for RGB(A) so grey+alpha keeps its alpha; grey is collapsed back below.
    // keepIccProfile(): otherwise sharp converts pixels from an embedded profile to sRGB.
    const out = await sharp(buf)
      .keepIccProfile()
      .toColourspace(wide ? 'rgb16' : 'srgb')
      .raw({ depth: wide ? 'ushort' : 'uchar' })
      .toBuffer({ resolveWithObject: true });
    raw = out.data;
    rawCh = out.info.channels;
    if (out.info.width !== width || out.info.height !== height || (rawCh !== 3 && rawCh !== 4)) {
      throw new Error(`unexpected decoded layout ${out.info.width}x${out.info.height}x${rawCh}`);
    }
  } catch (e) {
    throw new ImageError('decode', `cannot decode image: ${(e as Error).message}`);
  }
  const n = width * height;
  const sample: (i: number) => number = wide
    ? ((v) => (i: number) => v[i]!)(new Uint16Array(raw.buffer, raw.byteOffset, raw.length / 2))
    : (i: number) => raw[i]!;
  const grey = srcCh <= 2 && !meta.isPalette;
  const alpha = rawCh === 4 && !meta.isPalette;

  let channels: 1 | 2 | 3 | 4;
  let pick: (px: number, c: number) => number;
  if (grey && wide && !alpha) {
    channels = 1; // Pillow mode "I": convert("RGB") clips to 0..255
    pick = (px) => Math.min(sample(px * rawCh), 255);
  } else if (grey && wide) {
    channels = 4; // Pillow opens 16-bit LA as RGBA (rawmode "LA;16B")
    pick = (px, c) => sample(px * rawCh + (c === 3 ? 3 : 0)) >> 8;
  } else if (grey) {
    channels = alpha ? 2 : 1;
    pick = (px, c) => sample(px * rawCh + (c === 1 ? 3 : 0));
  } else {
    channels = alpha ? 4 : 3;
    pick = wide ? (px, c) => sample(px * rawCh + c) >> 8 : (px, c) => sample(px * rawCh + c);
  }
  const data = new Uint8Array(n * channels);
  for (let px = 0; px < n; px++) for (let c = 0; c < channels; c++) data[px * channels + c] = pick(px, c);
  return { width, height, channels, data };
}

/** A 4-component JPEG: libvips' CMYK bytes, kept as they are (no ICC), then Pillow's inversion and cmyk2rgb. */
async function decodeCmykJpeg(buf: Uint8Array, width: number, height: number): Promise<DecodedImage> {
  let raw: Buffer;
  try {
    const out = await sharp(buf).pipelineColourspace('cmyk').toColourspace('cmyk').raw().toBuffer({ resolveWithObject: true });
    if (out.info.width !== width || out.info.height !== height || out.info.channels !== 4) {
      throw new Error(`unexpected decoded layout ${out.info.width}x${out.info.height}x${out.info.channels}`);
    }
    raw = out.data;
  } catch (e) {
    throw new ImageError('decode', `cannot decode image: ${(e as Error).message}`);
  }
  // libvips inverts libjpeg's output, with or without an Adobe marker, as Pillow does: its bytes are Pillow's CMYK
  // (golden decode-b/cmyk_no_adobe_marker.jpg holds it to that).
  return cmykToRgb(raw, width, height);
}

export async function decodeImageFile(path: string): Promise<DecodedImage> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (e) {
    throw new ImageError('decode', `cannot read image file ${path}: ${(e as Error).message}`);
  }
  try {
    return await decodeImageBuffer(buf);
  } catch (e) {
    if (e instanceof ImageError) throw new ImageError(e.code, `${path}: ${e.message}`);
    throw e;
  }
}

/** Lossless PNG of an 8-bit image (1..4 channels -> grey, grey+alpha, RGB, RGBA). */
export async function encodePng(img: DecodedImage): Promise<Uint8Array> {
  checkImage(img);
  if (img.width < 1 || img.height < 1) {
    throw new ImageError('bad_size', `cannot encode an empty ${img.width}x${img.height} image as PNG`);
  }
  let pipeline = sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels } });
  // Without this sharp writes grey input as RGB(A).
  if (img.channels <= 2) pipeline = pipeline.toColourspace('b-w');
  const buf = await pipeline
    .png()
    .toBuffer();
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
}
