import { ImageError } from './errors.js';
import { formatPyFloat } from '../py/float-repr.js';

/** qwen_vl_utils constants. */
export const IMAGE_FACTOR = 28;
export const MIN_PIXELS = 4 * 28 * 28; // 3136
export const MAX_PIXELS_TOTAL = 8192 * 28 * 28; // 6422528: ViLaVT's total visual budget

/** `<|image_pad|>` tokens of an image sized in IMAGE_FACTOR units: one per 28×28 block (2×2 merged 14-px patches). */
export function padTokenCount(width: number, height: number): number {
  return (width / IMAGE_FACTOR) * (height / IMAGE_FACTOR);
}
const MAX_RATIO = 200;

/** Python's round() on a double: nearest integer, ties to even. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const diff = x - f; // exact for doubles
  if (diff > 0.5) return f + 1;
  if (diff < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

export interface SmartResizeOptions {
  factor?: number;
  minPixels?: number;
  maxPixels?: number;
}

/**
 * qwen_vl_utils.smart_resize: returns [height, width], both multiples of `factor`.
 * Every step is the same IEEE double operation as in Python (true division, sqrt, floor/ceil,
 * round half to even), so results match bit for bit. `maxPixels` may be fractional (6422528/n).
 */
export function smartResize(height: number, width: number, opts: SmartResizeOptions = {}): [number, number] {
  const factor = opts.factor ?? IMAGE_FACTOR;
  const minPixels = opts.minPixels ?? MIN_PIXELS;
  const maxPixels = opts.maxPixels ?? 16384 * 28 * 28; // qwen_vl_utils default MAX_PIXELS
  for (const [name, v] of [['height', height], ['width', width], ['factor', factor]] as const) {
    if (!Number.isSafeInteger(v) || v < 1) {
      throw new ImageError('bad_size', `smart_resize: ${name} must be a positive integer, got ${v}`);
    }
  }
  const ratio = Math.max(height, width) / Math.min(height, width);
  if (ratio > MAX_RATIO) {
    throw new ImageError(
      'aspect_ratio',
      `absolute aspect ratio must be smaller than ${MAX_RATIO}, got ${formatPyFloat(ratio)}`,
    );
  }
  return smartResizeCore(height, width, factor, minPixels, maxPixels);
}

/**
 * The arithmetic of smart_resize without its checks: sizes may be floats (DeepEyes passes a bbox's nominal size)
 * and any aspect ratio passes. Returns [height, width]. A zero area in the min_pixels branch divides by zero
 * (Python's ZeroDivisionError): the caller decides what that means; here it throws ImageError 'bad_size'.
 */
export function smartResizeCore(height: number, width: number, factor: number, minPixels: number, maxPixels: number): [number, number] {
  let hBar = Math.max(factor, roundHalfEven(height / factor) * factor);
  let wBar = Math.max(factor, roundHalfEven(width / factor) * factor);
  if (hBar * wBar > maxPixels) {
    const beta = Math.sqrt((height * width) / maxPixels);
    hBar = Math.floor(height / beta / factor) * factor;
    wBar = Math.floor(width / beta / factor) * factor;
  } else if (hBar * wBar < minPixels) {
    if (height * width === 0) throw new ImageError('bad_size', 'division by zero');
    const beta = Math.sqrt(minPixels / (height * width));
    hBar = Math.ceil((height * beta) / factor) * factor;
    wBar = Math.ceil((width * beta) / factor) * factor;
  }
  return [hBar, wBar];
}
