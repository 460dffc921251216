import { ImageError } from './errors.js';
import { roundHalfEven } from './smart-resize.js';

/**
 * An 8-bit image, row-major, channels interleaved. Channel counts map to Pillow modes:
 * 1 = "L", 2 = "LA", 3 = "RGB", 4 = "RGBA" (straight, not premultiplied, alpha).
 */
export interface DecodedImage {
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
  data: Uint8Array;
}

export type RgbImage = DecodedImage & { channels: 3 };

/** Pillow's DecompressionBombError threshold (2 × Image.MAX_IMAGE_PIXELS): the in-code decoders' default bound. */
export const PILLOW_MAX_PIXELS = 2 * 89_478_485;

/** Decodes image file bytes (the browser's and Node's decoders differ; each platform plugs in its own). */
export interface ImageDecoder {
  decode(bytes: Uint8Array, name: string): Promise<DecodedImage>;
}

/** Throws ImageError unless the fields describe a consistent image (zero sizes allowed, like Pillow). */
export function checkImage(img: DecodedImage): void {
  const { width, height, channels, data } = img;
  if (!Number.isSafeInteger(width) || width < 0 || !Number.isSafeInteger(height) || height < 0) {
    throw new ImageError('bad_image', `image size must be non-negative integers, got ${width}x${height}`);
  }
  if (channels !== 1 && channels !== 2 && channels !== 3 && channels !== 4) {
    throw new ImageError('bad_image', `image channels must be 1..4, got ${String(channels)}`);
  }
  if (!(data instanceof Uint8Array) || data.length !== width * height * channels) {
    throw new ImageError(
      'bad_image',
      `image data must be a Uint8Array of ${width}*${height}*${channels} bytes, got ${data?.length}`,
    );
  }
}

/**
 * qwen_vl_utils.to_rgb: RGBA is pasted onto a white RGB canvas with alpha as the mask (Pillow's
 * paste_mask_L: out = DIV255(255*(255-a) + c*a)); every other mode is `.convert("RGB")`, which for
 * LA simply DROPS alpha (l2rgb/la2rgb) - qwen_vl_utils only special-cases mode "RGBA".
 * An RGB image comes back as it is, sharing its pixels (copy before writing to them): copying a 100 M-pixel
 * image cost 0.8 s of page faults, as much as decoding it.
 */
export function toRgb(img: DecodedImage): RgbImage {
  checkImage(img);
  const { width, height, channels, data } = img;
  const n = width * height;
  if (channels === 3) return img as RgbImage;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    let r: number, g: number, b: number;
    if (channels === 4) {
      const a = data[i * 4 + 3]!;
      r = blendOnWhite(data[i * 4]!, a);
      g = blendOnWhite(data[i * 4 + 1]!, a);
      b = blendOnWhite(data[i * 4 + 2]!, a);
    } else {
      r = g = b = data[i * channels]!;
    }
    out[i * 3] = r;
    out[i * 3 + 1] = g;
    out[i * 3 + 2] = b;
  }
  return { width, height, channels: 3, data: out };
}

/** Pillow's BLEND(mask, in1=255, in2=c) with DIV255(v) = ((v+128) + ((v+128) >> 8)) >> 8. */
function blendOnWhite(c: number, a: number): number {
  const t = 255 * (255 - a) + c * a + 128;
  return ((t >> 8) + t) >> 8;
}

/**
 * Pillow `Image.crop(box)`: box = (left, upper, right, lower); coordinates are rounded with
 * Python's round(); the parts outside the source are filled with zeros (alpha included).
 */
export function cropImage(img: DecodedImage, box: readonly [number, number, number, number]): DecodedImage {
  checkImage(img);
  if (box.length !== 4 || !box.every((v) => Number.isFinite(v))) {
    throw new ImageError('bad_box', `crop box must be 4 finite numbers, got [${box.join(', ')}]`);
  }
  if (box[2] < box[0]) throw new ImageError('bad_box', "Coordinate 'right' is less than 'left'");
  if (box[3] < box[1]) throw new ImageError('bad_box', "Coordinate 'lower' is less than 'upper'");
  const [x0, y0, x1, y1] = box.map(roundHalfEven) as [number, number, number, number];
  const { width, height, channels, data } = img;
  const w = x1 - x0;
  const h = y1 - y0;
  const out = new Uint8Array(w * h * channels); // zero-filled
  const cx0 = Math.max(x0, 0);
  const cx1 = Math.min(x1, width);
  if (cx1 > cx0) {
    const rowBytes = (cx1 - cx0) * channels;
    for (let y = Math.max(y0, 0); y < Math.min(y1, height); y++) {
      const src = (y * width + cx0) * channels;
      out.set(data.subarray(src, src + rowBytes), ((y - y0) * w + (cx0 - x0)) * channels);
    }
  }
  return { width: w, height: h, channels, data: out };
}
