// The crop of one tool-call region (zoomin() in vllm_eval/utils.py, MODEL.md §6.4): geometry in IEEE
// doubles in the reference's operation order, then the pixel work (crop, LANCZOS, fetch_image).

import { ImageError } from '../preprocess/errors.js';
import { fetchImage } from '../preprocess/fetch-image.js';
import { cropImage, type DecodedImage, type RgbImage } from '../preprocess/image.js';
import { resize } from '../preprocess/resample.js';
import { smartResize } from '../preprocess/smart-resize.js';
import { PyException } from '../py/errors.js';

export type Box = [number, number, number, number];

/** What the crop needs to know about the image the bbox refers to. */
export interface ZoomSource {
  /** Processed (displayed) size: the bbox coordinate space. */
  width: number;
  height: number;
  /** Normalized [x1,y1,x2,y2] of this image inside its original file ([0,0,1,1] for initial images). */
  region: Box;
  /** Size of the original file the pixels are cut from. */
  originalWidth: number;
  originalHeight: number;
}

export interface CropPlan {
  sourceRegion: Box;
  /** Normalized region of the crop inside the original file (unrounded doubles). */
  region: Box;
  /** Pillow crop box in original-file pixels (left, top, right, bottom). */
  box: Box;
  cropWidth: number;
  cropHeight: number;
  /** Display scale of the source image (width only) and the zoom factor. */
  currentScale: number;
  scale: number;
  /** Size of the LANCZOS-resized crop. */
  zoomWidth: number;
  zoomHeight: number;
  /** Size after smart_resize (what the model sees). */
  processedWidth: number;
  processedHeight: number;
}

export interface ZoomBudget {
  maxPixels: number;
  minPixels: number;
}

/** Python true division of floats: ZeroDivisionError instead of Infinity. */
function fdiv(a: number, b: number): number {
  if (b === 0) throw new PyException('ZeroDivisionError', 'float division by zero');
  return a / b;
}

/**
 * Geometry of one crop, with every exception the reference raises for it (Pillow's
 * `height and width must be > 0`, smart_resize's aspect-ratio error, divisions by zero), so a
 * call can be validated completely before any pixel is touched.
 */
export function planCrop(src: ZoomSource, bbox: Box, budget: ZoomBudget): CropPlan {
  const [x1, y1, x2, y2] = bbox;
  const { width: W, height: H, originalWidth: Wo, originalHeight: Ho } = src;
  const [ox1, oy1, ox2, oy2] = src.region;
  const nx1 = ox1 + (x1 / W) * (ox2 - ox1);
  const ny1 = oy1 + (y1 / H) * (oy2 - oy1);
  const nx2 = ox1 + (x2 / W) * (ox2 - ox1);
  const ny2 = oy1 + (y2 / H) * (oy2 - oy1);
  const box: Box = [Math.trunc(nx1 * Wo), Math.trunc(ny1 * Ho), Math.trunc(nx2 * Wo), Math.trunc(ny2 * Ho)];
  const cropWidth = box[2] - box[0];
  const cropHeight = box[3] - box[1];
  const currentScale = fdiv(W, (ox2 - ox1) * Wo);
  const scale = Math.min(2 * currentScale, 1 / Math.max(nx2 - nx1, 1e-6), 1 / Math.max(ny2 - ny1, 1e-6));
  const zoomWidth = Math.trunc(cropWidth * scale);
  const zoomHeight = Math.trunc(cropHeight * scale);
  // Image.resize returns a copy when the size is unchanged; otherwise a zero side is an error.
  const unchanged = zoomWidth === cropWidth && zoomHeight === cropHeight;
  if (!unchanged && (zoomWidth < 1 || zoomHeight < 1)) throw new PyException('ValueError', 'height and width must be > 0');
  // smart_resize starts with max(h, w) / min(h, w) on ints.
  if (zoomWidth === 0 || zoomHeight === 0) throw new PyException('ZeroDivisionError', 'division by zero');
  let processedHeight: number;
  let processedWidth: number;
  try {
    [processedHeight, processedWidth] = smartResize(zoomHeight, zoomWidth, budget);
  } catch (e) {
    if (e instanceof ImageError && e.code === 'aspect_ratio') throw new PyException('ValueError', e.message);
    throw e;
  }
  return {
    sourceRegion: [ox1, oy1, ox2, oy2],
    region: [nx1, ny1, nx2, ny2],
    box,
    cropWidth,
    cropHeight,
    currentScale,
    scale,
    zoomWidth,
    zoomHeight,
    processedWidth,
    processedHeight,
  };
}

export interface RenderedCrop {
  /** The LANCZOS-resized crop, in the original file's mode. */
  zoom: DecodedImage;
  /** After to_rgb + smart_resize + BICUBIC: the image the model sees. */
  processed: RgbImage;
}

/** The pixel work of a planned crop, cut from the ORIGINAL file's pixels. */
export function renderCrop(original: DecodedImage, plan: CropPlan, budget: ZoomBudget): RenderedCrop {
  const cut = cropImage(original, plan.box);
  const zoom = resize(cut, plan.zoomWidth, plan.zoomHeight, 'lanczos');
  const processed = fetchImage(zoom, budget);
  if (processed.width !== plan.processedWidth || processed.height !== plan.processedHeight) {
    throw new Error(
      `crop processed to ${processed.width}x${processed.height}, planned ${plan.processedWidth}x${plan.processedHeight}`,
    );
  }
  return { zoom, processed };
}
