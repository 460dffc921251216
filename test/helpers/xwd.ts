// Xvfb's screen as an image: `Xvfb -fbdir DIR` keeps its framebuffer in DIR/Xvfb_screen0 as an XWD file (X Window
// Dump: a big-endian header, the window name, the colormap, then the pixels). Decoded here for TrueColor 24/32-bit.
import { readFileSync } from 'node:fs';

export function readXwd(path: string): { width: number; height: number; rgb: Uint8Array } {
  const b = readFileSync(path);
  const u32 = (i: number) => b.readUInt32BE(i * 4);
  const headerSize = u32(0);
  const [format, width, height, byteOrder, bitsPerPixel, bytesPerLine, redMask, greenMask, blueMask, ncolors] =
    [u32(2), u32(4), u32(5), u32(7), u32(11), u32(12), u32(14), u32(15), u32(16), u32(19)];
  if (format !== 2 || (bitsPerPixel !== 32 && bitsPerPixel !== 24)) throw new Error(`unsupported XWD: format ${format}, ${bitsPerPixel} bits per pixel`);
  const data = headerSize + ncolors * 12;
  const shift = (m: number) => 31 - Math.clz32(m & -m);
  const [rs, gs, bs] = [shift(redMask), shift(greenMask), shift(blueMask)];
  const bpp = bitsPerPixel / 8;
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const at = data + y * bytesPerLine + x * bpp;
      let px = 0;
      for (let k = 0; k < bpp; k++) px |= b[at + k]! << (8 * (byteOrder === 0 ? k : bpp - 1 - k)); // 0 = LSB first
      px >>>= 0;
      const o = (y * width + x) * 3;
      rgb[o] = ((px & redMask) >>> rs) & 255;
      rgb[o + 1] = ((px & greenMask) >>> gs) & 255;
      rgb[o + 2] = ((px & blueMask) >>> bs) & 255;
    }
  }
  return { width, height, rgb };
}
