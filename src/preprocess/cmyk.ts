// CMYK JPEGs as Pillow 9.4 reads them. Platform-neutral (no Node APIs).
//
// Pillow opens every 4-component JPEG with rawmode "CMYK;I" ("assume adobe conventions", JpegImagePlugin), i.e. it
// inverts all four channels libjpeg outputs, whether or not the file has Adobe's APP14 marker; its convert("RGB")
// then applies Convert.c's cmyk2rgb. libvips (sharp 0.35) inverts the same way; browsers convert CMYK to RGB
// themselves (Blink: c·k/255, truncated), so they cannot give Pillow's bytes.
import type { RgbImage } from './image.js';

/**
 * Pillow's cmyk2rgb (Convert.c): nk = 255 - k; out = CLIP8(nk - MULDIV255(c, nk)) with
 * MULDIV255(a, b) = ((a·b + 128) >> 8 + a·b + 128) >> 8. `cmyk` is Pillow's CMYK (after the ";I" inversion),
 * 4 bytes a pixel; `inverted` says the bytes are libjpeg's raw output instead (inverted once more here).
 */
export function cmykToRgb(cmyk: Uint8Array, width: number, height: number, inverted = false): RgbImage {
  const n = width * height;
  if (cmyk.length !== n * 4) throw new RangeError(`CMYK data of ${cmyk.length} bytes for ${width}x${height} pixels`);
  const flip = inverted ? 255 : 0;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const nk = 255 - (cmyk[i * 4 + 3]! ^ flip);
    for (let c = 0; c < 3; c++) {
      const t = (cmyk[i * 4 + c]! ^ flip) * nk + 128;
      // nk - MULDIV255(c, nk) is always within 0..255, so CLIP8 never acts.
      out[i * 3 + c] = nk - (((t >> 8) + t) >> 8);
    }
  }
  return { width, height, channels: 3, data: out };
}
