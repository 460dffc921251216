// Storage dtypes. 16-bit types are stored packed two per 32-bit word so kernels can read them without the
// optional shader-f16 feature (unpack2x16float for f16, a 16-bit shift for bf16).

export type ActDType = 'f32' | 'f16';
export type WeightDType = 'f32' | 'f16' | 'bf16';
export type DType = 'f32' | 'f16' | 'bf16' | 'u32' | 'i32';

export function bytesPerElement(dtype: DType): number {
  return dtype === 'f16' || dtype === 'bf16' ? 2 : 4;
}

/** Byte size of `n` elements rounded up to 4 bytes (writeBuffer and bindings need multiples of 4). */
export function storageBytes(dtype: DType, n: number): number {
  return Math.ceil((n * bytesPerElement(dtype)) / 4) * 4;
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** IEEE half -> number (exact). */
export function f16BitsToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** number -> IEEE half bits, round to nearest even (via f32 first, as GPUs do). */
export function numberToF16Bits(v: number): number {
  f32Scratch[0] = v;
  const x = u32Scratch[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
  return sign | half;
}

export function bf16BitsToNumber(b: number): number {
  u32Scratch[0] = (b & 0xffff) << 16;
  return f32Scratch[0]!;
}

/** number -> bf16 bits, round to nearest even (as torch does). */
export function numberToBf16Bits(v: number): number {
  f32Scratch[0] = v;
  const x = u32Scratch[0]!;
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff)) return ((x >>> 16) | 0x40) & 0xffff;
  const rounded = x + 0x7fff + ((x >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}

/** Encode float values as the raw little-endian bytes of a storage dtype (padded to 4 bytes). */
export function encode(values: ArrayLike<number>, dtype: DType): Uint8Array {
  const n = values.length;
  const out = new Uint8Array(storageBytes(dtype, n));
  if (dtype === 'f32') new Float32Array(out.buffer).set(values);
  else if (dtype === 'u32') new Uint32Array(out.buffer).set(values);
  else if (dtype === 'i32') new Int32Array(out.buffer).set(values);
  else {
    const u16 = new Uint16Array(out.buffer);
    const conv = dtype === 'f16' ? numberToF16Bits : numberToBf16Bits;
    for (let i = 0; i < n; i++) u16[i] = conv(values[i]!);
  }
  return out;
}

/** Decode raw storage bytes to f32 values. */
export function decode(bytes: Uint8Array, dtype: DType, n: number): Float32Array {
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  if (dtype === 'f32') return new Float32Array(aligned.buffer, aligned.byteOffset, n).slice();
  if (dtype === 'u32') return Float32Array.from(new Uint32Array(aligned.buffer, aligned.byteOffset, n));
  if (dtype === 'i32') return Float32Array.from(new Int32Array(aligned.buffer, aligned.byteOffset, n));
  const u16 = new Uint16Array(aligned.buffer, aligned.byteOffset, n);
  const out = new Float32Array(n);
  if (dtype === 'bf16') {
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) bits[i] = u16[i]! << 16; // bf16 is the top half of an f32: exact
  } else {
    const table = f16Table();
    for (let i = 0; i < n; i++) out[i] = table[u16[i]!]!;
  }
  return out;
}

let f16Values: Float32Array | undefined;
/** All 65536 f16 values as f32 (256 KiB, built on first use): checkpoint-sized widening is a table lookup. */
function f16Table(): Float32Array {
  if (!f16Values) {
    f16Values = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Values[h] = f16BitsToNumber(h);
  }
  return f16Values;
}
