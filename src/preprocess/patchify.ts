import { ImageError } from './errors.js';
import { checkImage, type RgbImage } from './image.js';

/** CLIP normalization constants (preprocessor_config.json image_mean / image_std). */
export const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
export const CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;

export interface PatchifyOptions {
  patchSize?: number; // 14
  mergeSize?: number; // 2
  temporalPatchSize?: number; // 2
  mean?: readonly number[];
  std?: readonly number[];
  /**
   * 'float64' (default): f32((p/255 - mean)/std) computed in doubles - what the golden oracle
   * (tiny-a pixel_values) emits. 'float32': the HF Qwen2VLImageProcessor (slow, numpy) order:
   * f32(p * (1/255)), then (x - f32(mean)) / f32(std) in float32. They differ by at most 1 ulp.
   */
  arithmetic?: 'float64' | 'float32';
}

export interface Patches {
  pixelValues: Float32Array; // [N, 3 * temporalPatchSize * patchSize^2]
  gridThw: [number, number, number];
}

/**
 * Qwen2VLImageProcessor patch flattening for one still image whose sides are multiples of
 * patchSize * mergeSize (MODEL.md §2.2-2.3). Row r = ((bh*(gw/m) + bw)*m + mh)*m + mw is patch
 * (2bh+mh, 2bw+mw) for m = 2 (merge order); column c = ((ch*T + t)*P + py)*P + px; the image is
 * repeated over the T temporal slots.
 */
export function patchify(img: RgbImage, opts: PatchifyOptions = {}): Patches {
  checkImage(img);
  if (img.channels !== 3) throw new ImageError('bad_image', `patchify needs an RGB image, got ${img.channels} channels`);
  const P = opts.patchSize ?? 14;
  const M = opts.mergeSize ?? 2;
  const T = opts.temporalPatchSize ?? 2;
  const mean = opts.mean ?? CLIP_MEAN;
  const std = opts.std ?? CLIP_STD;
  const arithmetic = opts.arithmetic ?? 'float64';
  for (const [name, v] of [['patchSize', P], ['mergeSize', M], ['temporalPatchSize', T]] as const) {
    if (!Number.isSafeInteger(v) || v < 1) throw new ImageError('bad_size', `${name} must be a positive integer, got ${v}`);
  }
  if (mean.length !== 3 || std.length !== 3) throw new ImageError('bad_size', 'mean and std need 3 values');
  const { width: W, height: H, data } = img;
  const unit = P * M;
  if (W < unit || H < unit || W % unit !== 0 || H % unit !== 0) {
    throw new ImageError('bad_size', `patchify: image ${W}x${H} is not a positive multiple of ${unit} on both sides`);
  }

  // Per channel, normalized value of every byte value.
  const lut = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) {
    for (let p = 0; p < 256; p++) {
      if (arithmetic === 'float64') {
        lut[c * 256 + p] = (p / 255 - mean[c]!) / std[c]!;
      } else {
        const x = Math.fround(p * (1 / 255)); // numpy: f64(p) * rescale_factor, cast to f32
        lut[c * 256 + p] = Math.fround(x - Math.fround(mean[c]!)) / Math.fround(std[c]!);
      }
    }
  }

  const gh = H / P;
  const gw = W / P;
  const cols = 3 * T * P * P;
  const out = new Float32Array(gh * gw * cols);
  let r = 0;
  for (let bh = 0; bh < gh / M; bh++) {
    for (let bw = 0; bw < gw / M; bw++) {
      for (let mh = 0; mh < M; mh++) {
        for (let mw = 0; mw < M; mw++, r++) {
          const y0 = (bh * M + mh) * P;
          const x0 = (bw * M + mw) * P;
          const row = r * cols;
          for (let c = 0; c < 3; c++) {
            for (let py = 0; py < P; py++) {
              for (let px = 0; px < P; px++) {
                const v = lut[c * 256 + data[((y0 + py) * W + x0 + px) * 3 + c]!]!;
                for (let t = 0; t < T; t++) out[row + ((c * T + t) * P + py) * P + px] = v;
              }
            }
          }
        }
      }
    }
  }
  return { pixelValues: out, gridThw: [1, gh, gw] };
}
