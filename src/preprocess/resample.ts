import { ImageError } from './errors.js';
import { checkImage, type DecodedImage } from './image.js';

/**
 * Port of Pillow 9.4.0 `Image.resize(size, filter)` for 8-bit images (src/libImaging/Resample.c),
 * with the defaults box = whole image and reducing_gap = None. Output is byte-identical to Pillow:
 * the same double-precision coefficient computation, the same 22-bit fixed-point rounding, the same
 * pass structure (horizontal pass only if the width changes, vertical pass only if the height does).
 */
export type ResampleFilter = 'box' | 'bilinear' | 'hamming' | 'bicubic' | 'lanczos';

interface Filter {
  fn: (x: number) => number;
  support: number;
}

const FILTERS: Record<ResampleFilter, Filter> = {
  box: { fn: (x) => (x > -0.5 && x <= 0.5 ? 1.0 : 0.0), support: 0.5 },
  bilinear: {
    fn: (x) => {
      if (x < 0.0) x = -x;
      return x < 1.0 ? 1.0 - x : 0.0;
    },
    support: 1.0,
  },
  hamming: {
    fn: (x) => {
      if (x < 0.0) x = -x;
      if (x === 0.0) return 1.0;
      if (x >= 1.0) return 0.0;
      x = x * Math.PI;
      // C uses the float literals 0.54f and 0.46f, promoted to double.
      return (Math.sin(x) / x) * (Math.fround(0.54) + Math.fround(0.46) * Math.cos(x));
    },
    support: 1.0,
  },
  bicubic: {
    fn: (x) => {
      const a = -0.5;
      if (x < 0.0) x = -x;
      if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
      if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
      return 0.0;
    },
    support: 2.0,
  },
  lanczos: {
    fn: (x) => (-3.0 <= x && x < 3.0 ? sinc(x) * sinc(x / 3) : 0.0),
    support: 3.0,
  },
};

function sinc(x: number): number {
  if (x === 0.0) return 1.0;
  x = x * Math.PI;
  return Math.sin(x) / x;
}

const PRECISION_BITS = 32 - 8 - 2;
const HALF = 1 << (PRECISION_BITS - 1);

/** Per output position: first input index, tap count, and fixed-point taps (ksize slots each). */
interface Coeffs {
  ksize: number;
  bounds: Int32Array; // [xmin, count] pairs
  kk: Int32Array;
}

/** precompute_coeffs + normalize_coeffs_8bpc for the box [0, inSize). */
function precomputeCoeffs(inSize: number, outSize: number, filter: Filter): Coeffs {
  // Pillow passes the box as C floats; for the whole image (in0 = 0, in1 = inSize) that is exact.
  const in0 = 0;
  const scale = (inSize - in0) / outSize;
  const filterscale = scale < 1.0 ? 1.0 : scale;
  const support = filter.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  const ss = 1.0 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = in0 + (xx + 0.5) * scale;
    let ww = 0.0;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    for (let x = 0; x < xmax; x++) {
      const w = filter.fn((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      let v = k[x]!;
      if (ww !== 0.0) v /= ww;
      // (int)(±0.5 + v * 2^22): round half away from zero, by truncation.
      kk[xx * ksize + x] = Math.trunc(v < 0 ? -0.5 + v * (1 << PRECISION_BITS) : 0.5 + v * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

/** clip8: the accumulator is an int32 (|0 reproduces C's wrap); >> 22 then clamp to 0..255. */
function clip8(ss: number): number {
  const v = ss >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Horizontal pass over source rows [y0, y0 + rows). */
function resampleHorizontal(
  src: Uint8Array, inW: number, ch: number, y0: number, rows: number, outW: number, c: Coeffs,
): Uint8Array {
  const out = new Uint8Array(outW * rows * ch);
  const { ksize, bounds, kk } = c;
  for (let yy = 0; yy < rows; yy++) {
    const rowBase = (yy + y0) * inW;
    for (let xx = 0; xx < outW; xx++) {
      const xmin = bounds[xx * 2]!;
      const xmax = bounds[xx * 2 + 1]!;
      const kBase = xx * ksize;
      for (let b = 0; b < ch; b++) {
        let ss = HALF;
        for (let x = 0; x < xmax; x++) {
          ss = (ss + src[(rowBase + x + xmin) * ch + b]! * kk[kBase + x]!) | 0;
        }
        out[(yy * outW + xx) * ch + b] = clip8(ss);
      }
    }
  }
  return out;
}

/** Vertical pass; bounds are relative to the first row of `src`. */
function resampleVertical(src: Uint8Array, w: number, ch: number, outH: number, c: Coeffs, yShift: number): Uint8Array {
  const out = new Uint8Array(w * outH * ch);
  const { ksize, bounds, kk } = c;
  const rowBytes = w * ch;
  for (let yy = 0; yy < outH; yy++) {
    const ymin = bounds[yy * 2]! - yShift;
    const ymax = bounds[yy * 2 + 1]!;
    const kBase = yy * ksize;
    for (let i = 0; i < rowBytes; i++) {
      let ss = HALF;
      for (let y = 0; y < ymax; y++) {
        ss = (ss + src[(y + ymin) * rowBytes + i]! * kk[kBase + y]!) | 0;
      }
      out[yy * rowBytes + i] = clip8(ss);
    }
  }
  return out;
}

/** ImagingResampleInner for an 8-bit image whose channels are all resampled independently. */
function resampleRaw(img: DecodedImage, outW: number, outH: number, filter: Filter): Uint8Array {
  const { width: inW, height: inH, channels: ch, data } = img;
  const needH = outW !== inW;
  const needV = outH !== inH;
  const horiz = precomputeCoeffs(inW, outW, filter);
  const vert = precomputeCoeffs(inH, outH, filter);
  let cur = data;
  let yShift = 0;
  if (needH) {
    // Only the source rows that the vertical pass reads are resampled horizontally.
    const yFirst = vert.bounds[0]!;
    const yLast = vert.bounds[outH * 2 - 2]! + vert.bounds[outH * 2 - 1]!;
    cur = resampleHorizontal(data, inW, ch, yFirst, yLast - yFirst, outW, horiz);
    yShift = yFirst;
  }
  if (needV) cur = resampleVertical(cur, outW, ch, outH, vert, yShift);
  return cur === data ? data.slice() : cur;
}

/** Pillow's MULDIV255(a, b) = (t + (t >> 8)) >> 8 with t = a*b + 128. */
function mulDiv255(a: number, b: number): number {
  const t = a * b + 128;
  return ((t >> 8) + t) >> 8;
}

/**
 * Pillow `Image.resize((width, height), filter)`. Same size -> a copy (no resampling).
 * LA / RGBA are resized premultiplied (LA->La, RGBA->RGBa, resize, convert back), as Pillow does.
 */
export function resize(img: DecodedImage, width: number, height: number, filter: ResampleFilter): DecodedImage {
  checkImage(img);
  const f = FILTERS[filter];
  if (f === undefined) throw new ImageError('unsupported', `Unknown resampling filter (${String(filter)}).`);
  if (!Number.isSafeInteger(width) || !Number.isSafeInteger(height)) {
    throw new ImageError('bad_size', `resize: size must be integers, got ${width}x${height}`);
  }
  const { channels: ch } = img;
  if (width === img.width && height === img.height) return { ...img, data: img.data.slice() };
  if (width < 1 || height < 1) throw new ImageError('bad_size', 'height and width must be > 0');
  if (img.width < 1 || img.height < 1) {
    // Pillow would read outside an empty source; refuse instead of inventing pixels.
    throw new ImageError('bad_size', `resize: cannot resample an empty ${img.width}x${img.height} image`);
  }
  if (ch === 1 || ch === 3) return { width, height, channels: ch, data: resampleRaw(img, width, height, f) };

  // Premultiply (rgbA2rgba / lA2la), resample, un-premultiply (rgba2rgbA / la2lA).
  const n = img.width * img.height;
  const pre = new Uint8Array(img.data);
  for (let i = 0; i < n; i++) {
    const a = pre[i * ch + ch - 1]!;
    for (let b = 0; b < ch - 1; b++) pre[i * ch + b] = mulDiv255(pre[i * ch + b]!, a);
  }
  const out = resampleRaw({ ...img, data: pre }, width, height, f);
  for (let i = 0; i < width * height; i++) {
    const a = out[i * ch + ch - 1]!;
    if (a === 255 || a === 0) continue;
    for (let b = 0; b < ch - 1; b++) out[i * ch + b] = Math.min(Math.floor((255 * out[i * ch + b]!) / a), 255);
  }
  return { width, height, channels: ch, data: out };
}
