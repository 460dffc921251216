// JPEG decoding in code, to the component samples libjpeg-turbo gives (what Pillow reads through), for the browser's
// CMYK JPEGs: Chromium converts CMYK to RGB itself with a truncating formula and gives no access to the samples
// (docs/IMAGES.md). Huffman baseline, extended and progressive JPEGs with 8-bit samples and every component at
// 1×1 sampling (CMYK JPEGs from Pillow, and most others, are written so); the inverse DCT is libjpeg's default
// "islow" integer transform (jidctint.c), bit for bit, including its range-limit table. Everything else (arithmetic
// coding, 12-bit, subsampled components) is ImageError 'unsupported'; damaged data is ImageError 'decode'.
// Platform-neutral.
import { ImageError } from './errors.js';
import { PILLOW_MAX_PIXELS } from './image.js';

export interface JpegSamples {
  width: number;
  height: number;
  /** One width×height plane per component, in frame order. */
  planes: Uint8Array[];
  /** The Adobe APP14 transform byte (0: none, 1: YCbCr, 2: YCCK), or null without an Adobe marker. */
  adobeTransform: number | null;
}

/** Zigzag position -> natural (row-major) coefficient index. */
const NATURAL = Uint8Array.from([
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21,
  28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61,
  54, 47, 55, 62, 63,
]);

interface Huffman { maxcode: Int32Array; valptr: Int32Array; mincode: Int32Array; values: Uint8Array }

interface Component {
  id: number;
  tq: number;
  blocksW: number;
  blocksH: number;
  coefs: Int16Array; // 64 per block, natural order
  dcPred: number;
  dcTable: number;
  acTable: number;
}

const bad = (why: string): never => {
  throw new ImageError('decode', `cannot decode JPEG: ${why}`);
};
const unsupported = (why: string): never => {
  throw new ImageError('unsupported', `JPEG ${why} is not decoded in code`);
};

function buildHuffman(counts: Uint8Array, values: Uint8Array): Huffman {
  const maxcode = new Int32Array(18).fill(-1);
  const valptr = new Int32Array(17);
  const mincode = new Int32Array(17);
  let code = 0;
  let k = 0;
  for (let l = 1; l <= 16; l++) {
    valptr[l] = k;
    mincode[l] = code;
    code += counts[l - 1]!;
    k += counts[l - 1]!;
    if (counts[l - 1]) maxcode[l] = code - 1;
    if (code > 1 << l) bad('bad Huffman table');
    code <<= 1;
  }
  return { maxcode, valptr, mincode, values };
}

/** Entropy-coded data reader: bit buffer over a scan, 0xFF00 unstuffed; at a marker it feeds zeros. */
class BitReader {
  pos: number;
  private acc = 0;
  private bits = 0;
  private atMarker = false;
  constructor(private readonly b: Uint8Array, start: number) {
    this.pos = start;
  }
  bit(): number {
    if (this.bits === 0) {
      let byte = 0;
      if (!this.atMarker && this.pos < this.b.length) {
        byte = this.b[this.pos]!;
        if (byte === 0xff) {
          const next = this.b[this.pos + 1];
          if (next === 0) this.pos += 2;
          else { this.atMarker = true; byte = 0; }
        } else {
          this.pos++;
        }
      } else if (!this.atMarker) {
        bad('image file is truncated'); // (past a marker libjpeg feeds zeros, with a warning: so does this)
      }
      this.acc = byte;
      this.bits = 8;
    }
    this.bits--;
    return (this.acc >> this.bits) & 1;
  }
  receive(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) v = (v << 1) | this.bit();
    return v;
  }
  /** receive + HUFF_EXTEND: n bits as a signed value. */
  signed(n: number): number {
    if (n === 0) return 0;
    const v = this.receive(n);
    return v < 1 << (n - 1) ? v - (1 << n) + 1 : v;
  }
  decode(h: Huffman | undefined): number {
    if (!h) bad('scan uses an undefined Huffman table');
    let code = 0;
    for (let l = 1; l <= 16; l++) {
      code = (code << 1) | this.bit();
      if (code <= h!.maxcode[l]!) return h!.values[h!.valptr[l]! + code - h!.mincode[l]!]!;
    }
    return bad('corrupt data: bad Huffman code');
  }
  /** Drops the partial byte and moves past an RSTn marker (restart interval boundary). */
  restart(): void {
    this.bits = 0;
    this.atMarker = false;
    while (this.pos + 1 < this.b.length && !(this.b[this.pos] === 0xff && this.b[this.pos + 1]! >= 0xd0 && this.b[this.pos + 1]! <= 0xd7)) {
      if (this.b[this.pos] === 0xff && this.b[this.pos + 1] !== 0 && this.b[this.pos + 1] !== 0xff) bad('restart marker missing');
      this.pos++;
    }
    if (this.pos + 1 >= this.b.length) bad('image file is truncated');
    this.pos += 2;
  }
}

/**
 * The frame's component count and the Adobe transform from the markers before the first scan, or null when the
 * bytes are not a JPEG with a frame header there (nothing is decoded).
 */
export function readJpegFrame(bytes: Uint8Array): { components: number; adobeTransform: number | null } | null {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return null;
  let adobeTransform: number | null = null;
  let i = 2;
  while (i + 4 <= bytes.length) {
    if (bytes[i] !== 0xff) return null;
    const marker = bytes[i + 1]!;
    if (marker === 0xff) { i++; continue; }
    if (marker === 0xda || marker === 0xd9) return null;
    const len = (bytes[i + 2]! << 8) | bytes[i + 3]!;
    if (marker === 0xee && len >= 14 && i + 16 <= bytes.length && String.fromCharCode(...bytes.subarray(i + 4, i + 9)) === 'Adobe') adobeTransform = bytes[i + 15]!;
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return i + 9 < bytes.length ? { components: bytes[i + 9]!, adobeTransform } : null;
    }
    i += 2 + len;
  }
  return null;
}

/** Decodes a JPEG to its component planes (see the file comment for what is supported). */
export function decodeJpegSamples(bytes: Uint8Array, opts: { maxPixels?: number } = {}): JpegSamples {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) bad('not a JPEG file');
  const quant: (Int32Array | undefined)[] = [];
  const dcTables: (Huffman | undefined)[] = [];
  const acTables: (Huffman | undefined)[] = [];
  let frame: { width: number; height: number; progressive: boolean; comps: Component[] } | null = null;
  let restartInterval = 0;
  let adobeTransform: number | null = null;
  let i = 2;
  let sawEoi = false;
  while (i < bytes.length && !sawEoi) {
    if (bytes[i] !== 0xff) { i++; continue; } // libjpeg skips garbage between markers
    const marker = bytes[i + 1];
    if (marker === undefined) break;
    if (marker === 0xff) { i++; continue; }
    i += 2;
    if (marker === 0xd9) { sawEoi = true; break; }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue; // TEM, stray RSTn
    if (i + 2 > bytes.length) bad('image file is truncated');
    const len = (bytes[i]! << 8) | bytes[i + 1]!;
    if (len < 2 || i + len > bytes.length) bad(`marker 0x${marker.toString(16)} runs past the end of the file`);
    const seg = bytes.subarray(i + 2, i + len);
    const segEnd = i + len;
    switch (marker) {
      case 0xdb: { // DQT
        for (let p = 0; p < seg.length;) {
          const pq = seg[p]! >> 4;
          const tq = seg[p]! & 15;
          if (tq > 3 || pq > 1) bad('bad quantization table');
          const n = pq ? 128 : 64;
          if (p + 1 + n > seg.length) bad('quantization table runs past its segment');
          const t = new Int32Array(64);
          for (let k = 0; k < 64; k++) t[NATURAL[k]!] = pq ? (seg[p + 1 + 2 * k]! << 8) | seg[p + 2 + 2 * k]! : seg[p + 1 + k]!;
          quant[tq] = t;
          p += 1 + n;
        }
        break;
      }
      case 0xc4: { // DHT
        for (let p = 0; p < seg.length;) {
          const tc = seg[p]! >> 4;
          const th = seg[p]! & 15;
          if (tc > 1 || th > 3 || p + 17 > seg.length) bad('bad Huffman table');
          const counts = seg.subarray(p + 1, p + 17);
          const total = counts.reduce((a, c) => a + c, 0);
          if (total > 256 || p + 17 + total > seg.length) bad('bad Huffman table');
          const h = buildHuffman(counts, seg.slice(p + 17, p + 17 + total));
          (tc === 0 ? dcTables : acTables)[th] = h;
          p += 17 + total;
        }
        break;
      }
      case 0xdd: // DRI
        if (seg.length < 2) bad('bad restart interval');
        restartInterval = (seg[0]! << 8) | seg[1]!;
        break;
      case 0xee: // APP14: "Adobe", version, flags0, flags1, transform
        if (seg.length >= 12 && String.fromCharCode(...seg.subarray(0, 5)) === 'Adobe') adobeTransform = seg[11]!;
        break;
      case 0xc0: case 0xc1: case 0xc2: { // SOF0 baseline, SOF1 extended, SOF2 progressive (Huffman)
        if (frame) bad('more than one frame');
        if (seg.length < 6) bad('bad frame header');
        if (seg[0] !== 8) unsupported(`with ${seg[0]}-bit samples`);
        const height = (seg[1]! << 8) | seg[2]!;
        const width = (seg[3]! << 8) | seg[4]!;
        const n = seg[5]!;
        if (width < 1 || height < 1) unsupported('with the height given in a DNL marker or an empty size');
        if (width * height > (opts.maxPixels ?? PILLOW_MAX_PIXELS)) {
          throw new ImageError('too_large', `image of ${width}x${height} pixels exceeds the limit of ${opts.maxPixels ?? PILLOW_MAX_PIXELS} pixels`);
        }
        if (n < 1 || n > 4 || seg.length < 6 + 3 * n) bad('bad frame header');
        const blocksW = Math.ceil(width / 8);
        const blocksH = Math.ceil(height / 8);
        // Every block costs at least one bit of entropy-coded data (its first DC code): a file too short for the
        // size it declares is refused before the coefficients are allocated.
        if (blocksW * blocksH * n > bytes.length * 8) bad(`image file is truncated: ${width}x${height} pixels cannot fit in ${bytes.length} bytes`);
        const comps: Component[] = [];
        for (let c = 0; c < n; c++) {
          const hv = seg[7 + 3 * c]!;
          if (hv !== 0x11) unsupported('with subsampled components');
          const tq = seg[8 + 3 * c]!;
          if (tq > 3) bad('bad quantization table index');
          comps.push({ id: seg[6 + 3 * c]!, tq, blocksW, blocksH, coefs: new Int16Array(blocksW * blocksH * 64), dcPred: 0, dcTable: 0, acTable: 0 });
        }
        frame = { width, height, progressive: marker === 0xc2, comps };
        break;
      }
      case 0xda: { // SOS
        if (!frame) bad('scan before the frame header');
        const ns = seg[0] ?? 0; // an empty segment (length 2) has no count: found by npm run fuzz
        if (ns < 1 || ns > 4 || seg.length < 4 + 2 * ns) bad('bad scan header');
        const comps: Component[] = [];
        for (let c = 0; c < ns; c++) {
          const comp = frame!.comps.find((x) => x.id === seg[1 + 2 * c]);
          if (!comp) bad('scan names an unknown component');
          comp!.dcTable = seg[2 + 2 * c]! >> 4;
          comp!.acTable = seg[2 + 2 * c]! & 15;
          comps.push(comp!);
        }
        const ss = seg[1 + 2 * ns]!;
        const se = seg[2 + 2 * ns]!;
        const ah = seg[3 + 2 * ns]! >> 4;
        const al = seg[3 + 2 * ns]! & 15;
        i = decodeScan(bytes, segEnd, frame!, comps, { ss, se, ah, al }, dcTables, acTables, restartInterval);
        continue;
      }
      default:
        if (marker >= 0xc3 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
          unsupported(`coding process (SOF 0x${marker.toString(16)}: lossless, hierarchical or arithmetic)`);
        }
        if (marker === 0xcc) unsupported('with arithmetic coding');
    }
    i = segEnd;
  }
  if (!frame) bad('no frame header');
  const { width, height, comps } = frame!;
  const planes = comps.map((c) => {
    const q = quant[c.tq];
    if (!q) bad('component uses an undefined quantization table');
    return idctPlane(c, q!, width, height);
  });
  return { width, height, planes, adobeTransform };
}

interface ScanParams { ss: number; se: number; ah: number; al: number }

/** Decodes one scan into the components' coefficients; returns the index after its entropy-coded data. */
function decodeScan(
  bytes: Uint8Array, start: number, frame: { progressive: boolean; comps: Component[] }, comps: Component[], p: ScanParams,
  dcTables: (Huffman | undefined)[], acTables: (Huffman | undefined)[], restartInterval: number,
): number {
  const { ss, se, ah, al } = p;
  if (frame.progressive) {
    if (ss > se || se > 63 || (ss === 0 && se !== 0) || (ss > 0 && comps.length !== 1) || al > 13) bad('bad progressive scan parameters');
  } else if (ss !== 0 || se !== 63 || ah !== 0 || al !== 0) {
    bad('bad sequential scan parameters');
  }
  const r = new BitReader(bytes, start);
  for (const c of comps) c.dcPred = 0;
  let eobrun = 0;
  // 1×1 sampling everywhere: interleaved or not, the scan walks the same grid of blocks.
  const total = comps[0]!.blocksW * comps[0]!.blocksH;
  // A DC first scan (of a progressive JPEG, or the DC of a sequential block: shift 0).
  const dcFirst = (c: Component, base: number, shift: number) => {
    const t = r.decode(dcTables[c.dcTable]);
    c.dcPred += r.signed(t);
    c.coefs[base] = c.dcPred * (1 << shift);
  };
  // An AC first scan over zigzag positions from..to (a sequential block: 1..63, shift 0, where every end-of-block
  // code has run 0, so the end-of-band run below stays 0).
  const acFirst = (c: Component, base: number, from: number, to: number, shift: number) => {
    if (eobrun > 0) { eobrun--; return; }
    const ac = acTables[c.acTable];
    for (let k = from; k <= to; k++) {
      const rs = r.decode(ac);
      const s = rs & 15;
      const run = rs >> 4;
      if (s) {
        k += run;
        if (k > 63) bad('corrupt data: coefficient index past 63');
        c.coefs[base + NATURAL[k]!] = r.signed(s) * (1 << shift);
      } else if (run === 15) {
        k += 15;
      } else {
        eobrun = (1 << run) + (run ? r.receive(run) : 0) - 1;
        break;
      }
    }
  };
  const decodeBlock = (c: Component, blk: number) => {
    const co = c.coefs;
    const base = blk * 64;
    if (!frame.progressive) {
      dcFirst(c, base, 0);
      acFirst(c, base, 1, 63, 0);
      return;
    }
    if (ss === 0) {
      if (ah === 0) dcFirst(c, base, al);
      else if (r.bit()) co[base] |= 1 << al;
      return;
    }
    const ac = acTables[c.acTable];
    if (ah === 0) {
      acFirst(c, base, ss, se, al);
      return;
    }
    // AC refinement (jdphuff.c decode_mcu_AC_refine).
    const p1 = 1 << al;
    const m1 = -1 << al;
    let k = ss;
    const correct = (pos: number) => {
      const v = co[pos]!;
      if (r.bit() && (v & p1) === 0) co[pos] = v >= 0 ? v + p1 : v + m1;
    };
    if (eobrun === 0) {
      for (; k <= se; k++) {
        const rs = r.decode(ac);
        let run = rs >> 4;
        let s = rs & 15;
        if (s) {
          s = r.bit() ? p1 : m1;
        } else if (run !== 15) {
          eobrun = (1 << run) + (run ? r.receive(run) : 0);
          break;
        }
        while (k <= se) {
          const pos = base + NATURAL[k]!;
          if (co[pos] !== 0) correct(pos);
          else if (--run < 0) break;
          k++;
        }
        if (s) {
          if (k > 63) bad('corrupt data: coefficient index past 63');
          co[base + NATURAL[k]!] = s;
        }
      }
    }
    if (eobrun > 0) {
      for (; k <= se; k++) {
        const pos = base + NATURAL[k]!;
        if (co[pos] !== 0) correct(pos);
      }
      eobrun--;
    }
  };
  for (let m = 0; m < total; m++) {
    if (restartInterval && m > 0 && m % restartInterval === 0) {
      r.restart();
      for (const c of comps) c.dcPred = 0;
      eobrun = 0;
    }
    for (const c of comps) decodeBlock(c, m); // an MCU: one block of each scan component

  }
  // The scan's data ends at the next marker that is not RSTn.
  let i = r.pos;
  while (i + 1 < bytes.length && !(bytes[i] === 0xff && bytes[i + 1] !== 0 && !(bytes[i + 1]! >= 0xd0 && bytes[i + 1]! <= 0xd7))) i++;
  return i;
}

// jidctint.c constants (CONST_BITS 13, PASS1_BITS 2).
const FIX_0_298631336 = 2446, FIX_0_390180644 = 3196, FIX_0_541196100 = 4433, FIX_0_765366865 = 6270;
const FIX_0_899976223 = 7373, FIX_1_175875602 = 9633, FIX_1_501321110 = 12299, FIX_1_847759065 = 15137;
const FIX_1_961570560 = 16069, FIX_2_053119869 = 16819, FIX_2_562915447 = 20995, FIX_3_072711026 = 25172;

/** libjpeg's post-IDCT range limit: x (masked to 10 bits) + 128, clamped, with its wraparound for wild values. */
const RANGE_LIMIT = Uint8Array.from({ length: 1024 }, (_, i) => (i < 128 ? i + 128 : i < 512 ? 255 : i < 896 ? 0 : i - 896));

/** DESCALE(x, n): x / 2^n rounded, as an arithmetic shift (doubles: products exceed 32 bits). */
const descale = (x: number, n: number) => Math.floor((x + 2 ** (n - 1)) / 2 ** n);

/**
 * One 8-point pass of jpeg_idct_islow (its even and odd parts): src[at + k·stride] for k = 0..7, descaled by
 * `shift` bits, into t[0..7]. Pass 1 (columns) descales by CONST_BITS − PASS1_BITS = 11, pass 2 (rows) by
 * CONST_BITS + PASS1_BITS + 3 = 18.
 */
function idct8(src: Float64Array, at: number, stride: number, shift: number, t: Float64Array): void {
  let z2 = src[at + 2 * stride]!;
  let z3 = src[at + 6 * stride]!;
  let z1 = (z2 + z3) * FIX_0_541196100;
  let tmp2 = z1 + z3 * -FIX_1_847759065;
  let tmp3 = z1 + z2 * FIX_0_765366865;
  let tmp0 = (src[at]! + src[at + 4 * stride]!) * 8192; // << CONST_BITS
  let tmp1 = (src[at]! - src[at + 4 * stride]!) * 8192;
  const tmp10 = tmp0 + tmp3, tmp13 = tmp0 - tmp3, tmp11 = tmp1 + tmp2, tmp12 = tmp1 - tmp2;
  tmp0 = src[at + 7 * stride]!; tmp1 = src[at + 5 * stride]!; tmp2 = src[at + 3 * stride]!; tmp3 = src[at + stride]!;
  z1 = tmp0 + tmp3;
  z2 = tmp1 + tmp2;
  z3 = tmp0 + tmp2;
  let z4 = tmp1 + tmp3;
  const z5 = (z3 + z4) * FIX_1_175875602;
  tmp0 *= FIX_0_298631336; tmp1 *= FIX_2_053119869; tmp2 *= FIX_3_072711026; tmp3 *= FIX_1_501321110;
  z1 *= -FIX_0_899976223; z2 *= -FIX_2_562915447; z3 *= -FIX_1_961570560; z4 *= -FIX_0_390180644;
  z3 += z5; z4 += z5;
  tmp0 += z1 + z3; tmp1 += z2 + z4; tmp2 += z2 + z3; tmp3 += z1 + z4;
  t[0] = descale(tmp10 + tmp3, shift);
  t[7] = descale(tmp10 - tmp3, shift);
  t[1] = descale(tmp11 + tmp2, shift);
  t[6] = descale(tmp11 - tmp2, shift);
  t[2] = descale(tmp12 + tmp1, shift);
  t[5] = descale(tmp12 - tmp1, shift);
  t[3] = descale(tmp13 + tmp0, shift);
  t[4] = descale(tmp13 - tmp0, shift);
}

/** jpeg_idct_islow over every block of a component, cropped to width×height. */
function idctPlane(c: Component, q: Int32Array, width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height);
  const dq = new Float64Array(64); // dequantized coefficients
  const ws = new Float64Array(64); // libjpeg's workspace between the passes
  const t = new Float64Array(8);
  const block = new Uint8Array(64);
  for (let by = 0; by < c.blocksH; by++) {
    for (let bx = 0; bx < c.blocksW; bx++) {
      const base = (by * c.blocksW + bx) * 64;
      for (let k = 0; k < 64; k++) dq[k] = c.coefs[base + k]! * q[k]!;
      // Pass 1: columns; a column whose AC terms are all zero is its DC << PASS1_BITS (libjpeg's shortcut, exact).
      for (let col = 0; col < 8; col++) {
        if (dq[8 + col] === 0 && dq[16 + col] === 0 && dq[24 + col] === 0 && dq[32 + col] === 0 && dq[40 + col] === 0 &&
          dq[48 + col] === 0 && dq[56 + col] === 0) {
          for (let row = 0; row < 8; row++) ws[row * 8 + col] = dq[col]! * 4;
          continue;
        }
        idct8(dq, col, 8, 11, t);
        for (let row = 0; row < 8; row++) ws[row * 8 + col] = t[row]!;
      }
      // Pass 2: rows, through the range-limit table (with libjpeg's zero-row shortcut).
      for (let row = 0; row < 8; row++) {
        const w = row * 8;
        if (ws[w + 1] === 0 && ws[w + 2] === 0 && ws[w + 3] === 0 && ws[w + 4] === 0 && ws[w + 5] === 0 && ws[w + 6] === 0 && ws[w + 7] === 0) {
          block.fill(RANGE_LIMIT[descale(ws[w]!, 5) & 1023]!, w, w + 8);
          continue;
        }
        idct8(ws, w, 1, 18, t);
        for (let x = 0; x < 8; x++) block[w + x] = RANGE_LIMIT[t[x]! & 1023]!;
      }
      const x0 = bx * 8;
      const y0 = by * 8;
      for (let y = 0; y < 8 && y0 + y < height; y++) {
        for (let x = 0; x < 8 && x0 + x < width; x++) out[(y0 + y) * width + x0 + x] = block[y * 8 + x]!;
      }
    }
  }
  return out;
}
