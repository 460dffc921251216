// GIF transparency as Pillow 9.4 sees it: the first frame opens as mode "P" with the transparent index only noted
// in `info`, and convert("RGB") ignores it (the index shows its palette colour). libvips and browsers make such
// pixels transparent instead, so the transparency flag of every Graphic Control Extension is cleared in a copy of
// the file before they decode it. Pure byte manipulation, platform-neutral.

/** True when the bytes start like a GIF file. */
export function isGif(bytes: Uint8Array): boolean {
  return bytes.length >= 6 && bytes[0] === 0x47 && bytes[1] === 0x49 && bytes[2] === 0x46 && bytes[3] === 0x38;
}

/** Skips a chain of data sub-blocks starting at `i`; returns the index after the terminator, or -1 past the end. */
function skipSubBlocks(b: Uint8Array, i: number): number {
  while (i < b.length) {
    const n = b[i]!;
    if (n === 0) return i + 1;
    i += 1 + n;
  }
  return -1;
}

/**
 * A copy of the GIF with the transparency flag of every Graphic Control Extension cleared, or the bytes themselves
 * when none is set (or the file is not a GIF). A malformed file is returned as far as it could be walked; the
 * decoder then reports what is wrong with it.
 */
export function withoutGifTransparency(bytes: Uint8Array): Uint8Array {
  if (!isGif(bytes) || bytes.length < 13) return bytes;
  let b = bytes;
  const writable = () => (b === bytes ? (b = new Uint8Array(bytes)) : b);
  const globalTable = bytes[10]! & 0x80 ? 3 << ((bytes[10]! & 7) + 1) : 0;
  let i = 13 + globalTable;
  while (i >= 0 && i < b.length) {
    const block = b[i]!;
    if (block === 0x3b) break; // trailer
    if (block === 0x21) {
      // Extension: label, then sub-blocks. A Graphic Control Extension's first sub-block is 4 bytes: packed
      // fields (bit 0: transparent colour flag), delay, transparent index.
      if (i + 2 >= b.length) break;
      if (b[i + 1] === 0xf9 && b[i + 2] === 4 && i + 3 < b.length && b[i + 3]! & 1) writable()[i + 3] = b[i + 3]! & 0xfe;
      i = skipSubBlocks(b, i + 2);
    } else if (block === 0x2c) {
      // Image descriptor (10 bytes), local colour table, LZW code size, image data sub-blocks.
      if (i + 10 > b.length) break;
      const localTable = b[i + 9]! & 0x80 ? 3 << ((b[i + 9]! & 7) + 1) : 0;
      i = skipSubBlocks(b, i + 10 + localTable + 1);
    } else {
      break;
    }
  }
  return b;
}
