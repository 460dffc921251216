// RLE BMP "bombs": a few hundred bytes whose end-of-line and delta escapes skip most of a 100 M-pixel image. Pillow
// 9.4 decodes them (only a DecompressionBombWarning below 2 x 89,478,485 pixels), so the decoder must too, in a time
// that follows the file's size. Expected pixels are worked out here from the RLE stream by Pillow 9.4's rules
// (BmpRleDecoder): an encoded run of n pixels (clipped at the row end) repeats its index, or in RLE4 alternates its
// two nibbles; an absolute run of n pixels copies n bytes (RLE4: n/2 bytes, 2 pixels each, so an odd n loses its last
// pixel) and then skips to a 16-bit boundary of the file offset; end of line fills index 0 up to the row end; a delta
// drops 2 bytes, then skips right + up * width pixels (index 0); file row 0 is the bottom row unless the height is
// negative. Index 0 and the palette's colours then come out as RGB.
import { describe, expect, it } from 'vitest';
import { decodeBmp } from '../../src/preprocess/bmp.js';
import { rng } from '../helpers/random.js';

type Rgb = readonly [number, number, number];

/** A BMP with a 40-byte header, a palette given as RGB and an RLE stream right after it. */
function rleBmp(o: { width: number; height: number; rle4: boolean; palette: Rgb[]; stream: number[] }): Uint8Array {
  const dataOffset = 54 + o.palette.length * 4;
  const b = new Uint8Array(dataOffset + o.stream.length);
  const v = new DataView(b.buffer);
  b[0] = 0x42; b[1] = 0x4d;
  v.setUint32(2, b.length, true);
  v.setUint32(10, dataOffset, true);
  v.setUint32(14, 40, true);
  v.setInt32(18, o.width, true);
  v.setInt32(22, o.height, true);
  v.setUint16(26, 1, true);
  v.setUint16(28, o.rle4 ? 4 : 8, true);
  v.setUint32(30, o.rle4 ? 2 : 1, true);
  v.setUint32(46, o.palette.length, true);
  o.palette.forEach(([r, g, bl], i) => b.set([bl, g, r, 0], 54 + i * 4));
  b.set(o.stream, dataOffset);
  return b;
}

/** CPU milliseconds (user + system) that `f` takes, and its result. */
function cpuMs<T>(f: () => T): [T, number] {
  const t = process.cpuUsage();
  const r = f();
  const u = process.cpuUsage(t);
  return [r, (u.user + u.system) / 1000];
}

/**
 * Compares the image with `expected(x, y)` at the given points and at 20,000 seeded random ones (a full scan would
 * touch every page of a 300 MB buffer, which is the very cost these files must not cause).
 */
function expectPixels(img: { width: number; height: number; data: Uint8Array }, expected: (x: number, y: number) => Rgb, points: [number, number][]): void {
  const next = rng(20261204);
  const all = [...points];
  for (let i = 0; i < 20_000; i++) all.push([Math.floor(next() * img.width), Math.floor(next() * img.height)]);
  const wrong: string[] = [];
  for (const [x, y] of all) {
    const o = (y * img.width + x) * 3;
    const got = [img.data[o], img.data[o + 1], img.data[o + 2]].join(',');
    if (got !== expected(x, y).join(',')) wrong.push(`(${x}, ${y}): ${got}, expected ${expected(x, y).join(',')}`);
  }
  expect(wrong.slice(0, 10)).toEqual([]);
}

/** The points around each column boundary of each row: where a wrong offset would show. */
const around = (rows: number[], cols: number[], width: number): [number, number][] =>
  rows.flatMap((y) => cols.flatMap((c) => [c - 1, c, c + 1]).filter((x) => x >= 0 && x < width).map((x): [number, number] => [x, y]));

describe('BMP decoder: RLE streams that skip most of a huge image', () => {
  it('the 169-byte RLE4 file of 33,554,445 x 3 pixels found by npm run fuzz (image-decode, seed 20261204, input 94436 on a6e5efd)', () => {
    // The file as the fuzzer saved it (xxd -p): file header (data at offset 118), a 40-byte info header, a 16-colour
    // palette (B G R 0 from offset 54), the RLE4 stream from offset 118.
    const hex =
      '424d9e0000000000000076000000280000000d00000203000000010004000200' +
      '000028000000130b0000130b000010000000000000006993e500f930f800ec9a' +
      '57005fccda005833fb0027b6020080e1c300e7655b00183fc60081fba5008e44' +
      '920080183800850e3a00b54f2d0034911300a5cea600875a0005123400000d00' +
      '00000000000080cdef00038100000d2200000d4400000d0000000000000080cd' +
      'ef00038100000d2200';
    const bytes = Uint8Array.from(hex.match(/../g)!.map((h) => parseInt(h, 16)));
    expect(bytes.length).toBe(169);
    const v = new DataView(bytes.buffer);
    const W = v.getUint32(18, true);
    expect([W, v.getInt32(22, true), v.getUint16(28, true), v.getUint32(30, true), v.getUint32(10, true)]).toEqual([33_554_445, 3, 4, 2, 118]);
    const pal = (i: number): Rgb => [bytes[54 + i * 4 + 2]!, bytes[54 + i * 4 + 1]!, bytes[54 + i * 4]!];
    expect(pal(0)).toEqual([0xe5, 0x93, 0x69]); // not black: every skipped pixel must be written
    // The stream from offset 118 (the bytes after the last end of line are never read):
    //   87 5a        run of 135: 5, a, 5, ...              file row 0, x 0..134
    //   00 05 12 34  absolute 5 -> 2 bytes: 1 2 3 4        x 135..138 (offset 124: even, no pad)
    //   00 00        end of line -> row 1
    //   0d 00        run of 13 of index 0                  row 1, x 0..12
    //   00 00 (x3)   end of line -> row 2, then twice at a row start: nothing
    //   80 cd        run of 128: c, d, c, ...              row 2, x 0..127
    //   ef 00        run of 239 of index 0                 x 128..366
    //   03 81        run of 3: 8 1 8                       x 367..369
    //   00 00        end of line -> 3 rows = the whole image
    // Bottom-up: file row 0 is y = 2, row 2 is y = 0.
    const expected = (x: number, y: number): Rgb => {
      if (y === 2 && x < 135) return pal(x % 2 === 0 ? 5 : 10);
      if (y === 2 && x < 139) return pal(x - 134);
      if (y === 0 && x < 128) return pal(x % 2 === 0 ? 12 : 13);
      if (y === 0 && x >= 367 && x < 370) return pal([8, 1, 8][x - 367]!);
      return pal(0);
    };
    const img = decodeBmp(bytes);
    expect([img.width, img.height, img.channels, img.data.length]).toEqual([W, 3, 3, W * 3 * 3]);
    expectPixels(img, expected, [...around([0, 1, 2], [0, 128, 135, 139, 367, 370, W - 1], W)]);
    // No CPU bound here: writing 302 MB of fresh memory alone costs ~0.8 s on the 2-core CI VM (page faults); the
    // bound is on the cases below, whose palette[0] is black so the skipped pixels cost nothing.
  });

  it('RLE8, top-down, 10,000 x 10,000: deltas over 255 rows at a time, end of line, an absolute run with padding', () => {
    const W = 10_000;
    const pal: Rgb[] = [[0, 0, 0], [10, 20, 30], [200, 100, 50]];
    const stream = [
      0x05, 0x01, // run of 5 of 1: row 0, x 0..4
      0x00, 0x02, 0x00, 0x00, 0x03, 0xff, // delta: 2 dropped bytes, right 3, up 255 -> n = 5 + 3 + 255 W: row 255, x 8
      0x02, 0x02, // run of 2 of 2: row 255, x 8..9
      ...Array.from({ length: 38 }, () => [0x00, 0x02, 0x00, 0x00, 0x00, 0xff]).flat(), // 38 x 255 rows -> row 9945, x 10
      0x00, 0x00, // end of line -> row 9946
      0x00, 0x02, 0x00, 0x00, 0x00, 0x35, // delta up 53 -> row 9999, x 0
      0x00, 0x03, 0x01, 0x02, 0x01, 0x00, // absolute 3: 1 2 1 at x 0..2; its data ends at offset 317 -> pad byte
      0xff, 0x02, // run of 255 of 2: x 3..257
      0x00, 0x00, // end of line -> the whole image
    ];
    const bytes = rleBmp({ width: W, height: -W, rle4: false, palette: pal, stream });
    // The absolute run's data ends at an odd file offset (pixel data from 54 + 3 * 4), so its pad byte is skipped.
    expect(66 + stream.length - 5).toBe(317);
    const expected = (x: number, y: number): Rgb => {
      if (y === 0 && x < 5) return pal[1]!;
      if (y === 255 && (x === 8 || x === 9)) return pal[2]!;
      if (y === W - 1 && x < 3) return pal[[1, 2, 1][x]!]!;
      if (y === W - 1 && x < 258) return pal[2]!;
      return pal[0]!;
    };
    const [img, ms] = cpuMs(() => decodeBmp(bytes));
    expect([img.width, img.height, img.data.length]).toEqual([W, W, W * W * 3]);
    expectPixels(img, expected, around([0, 1, 254, 255, 256, W - 2, W - 1], [0, 3, 5, 8, 10, 258, W - 1], W));
    // Measured ~10 ms (one 300 MB allocation whose untouched pages cost nothing); per-pixel work took ~1.4 s.
    expect(ms).toBeLessThan(300);
  });

  it('RLE4, bottom-up, 33,554,445 x 3: long runs, an odd absolute run, repeated end of line, deltas', () => {
    const W = 33_554_445;
    const pal: Rgb[] = [[0, 0, 0], [1, 2, 3], [40, 50, 60], [250, 128, 7]];
    const stream = [
      0xff, 0x12, // run of 255: 1 2 1 2 ...: file row 0, x 0..254
      0x00, 0x07, 0x12, 0x31, 0x23, 0x00, // absolute 7 -> 3 bytes: 1 2 3 1 2 3 at x 255..260; data ends at 77 -> pad
      0x00, 0x00, // end of line -> row 1
      0x00, 0x00, // end of line at a row start: nothing
      0x00, 0x02, 0x00, 0x00, 0x05, 0x00, // delta right 5 -> row 1, x 5
      0x03, 0x30, // run of 3: 3 0 3 at x 5..7
      0x00, 0x02, 0x00, 0x00, 0x00, 0x01, // delta up 1 -> row 2, x 8
      0x02, 0x33, // run of 2: 3 3 at x 8..9
      0x00, 0x00, // end of line -> the whole image
    ];
    const bytes = rleBmp({ width: W, height: 3, rle4: true, palette: pal, stream });
    // The absolute run's data ends at an odd file offset (pixel data from 54 + 4 * 4), so its pad byte is skipped.
    expect(70 + stream.indexOf(0x23) + 1).toBe(77);
    // Bottom-up: file row 0 is y = 2.
    const expected = (x: number, y: number): Rgb => {
      if (y === 2 && x < 255) return pal[x % 2 === 0 ? 1 : 2]!;
      if (y === 2 && x < 261) return pal[[1, 2, 3, 1, 2, 3][x - 255]!]!;
      if (y === 1 && (x === 5 || x === 7)) return pal[3]!;
      if (y === 0 && (x === 8 || x === 9)) return pal[3]!;
      return pal[0]!;
    };
    const [img, ms] = cpuMs(() => decodeBmp(bytes));
    expect([img.width, img.height, img.data.length]).toEqual([W, 3, W * 3 * 3]);
    expectPixels(img, expected, around([0, 1, 2], [0, 5, 8, 10, 255, 261, W - 1], W));
    expect(ms).toBeLessThan(300);
  });

  it('a stream that stops early in a 109 M-pixel image fails before the pixels are allocated and filled', () => {
    // 13 x 8,388,359 (as fuzz input 47295 of seed 20261204 on eec7cd8), palette[0] not black, 3 rows of data.
    const pal: Rgb[] = [[229, 147, 105], [1, 2, 3]];
    const stream = [0x0d, 0x11, 0x00, 0x00, 0x00, 0x00, 0x05, 0x01, 0x00, 0x00];
    const bytes = rleBmp({ width: 13, height: 8_388_359, rle4: true, palette: pal, stream });
    const [err, ms] = cpuMs(() => {
      try {
        decodeBmp(bytes);
      } catch (e) {
        return e;
      }
    });
    expect(err).toMatchObject({ name: 'ImageError', code: 'decode' });
    // Row 0: 13 pixels; end of line at a row start: nothing; row 1: 5 pixels; end of line -> 26 of 109,048,667.
    expect((err as Error).message).toMatch(/the RLE stream gives 26 of 109048667 pixels/);
    expect(ms).toBeLessThan(300); // measured ~1 ms; filling the 327 MB first cost 1.2 s
  });
});
