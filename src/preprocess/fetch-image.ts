import { toRgb, type DecodedImage, type RgbImage } from './image.js';
import { resize } from './resample.js';
import { IMAGE_FACTOR, MIN_PIXELS, smartResize } from './smart-resize.js';

export interface FetchImageOptions {
  maxPixels: number; // may be fractional (6422528 / n for n initial images)
  minPixels?: number; // default 3136
}

/**
 * qwen_vl_utils.fetch_image on an already-decoded image: to_rgb (RGBA onto white), smart_resize
 * (factor 28), then Pillow BICUBIC resize - skipped when the size is unchanged, as Image.resize does.
 */
export function fetchImage(img: DecodedImage, opts: FetchImageOptions): RgbImage {
  const rgb = toRgb(img);
  const [h, w] = smartResize(rgb.height, rgb.width, {
    factor: IMAGE_FACTOR,
    minPixels: opts.minPixels ?? MIN_PIXELS,
    maxPixels: opts.maxPixels,
  });
  if (h === rgb.height && w === rgb.width) return rgb;
  return resize(rgb, w, h, 'bicubic') as RgbImage;
}
