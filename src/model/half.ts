/**
 * Exact conversions between IEEE half (f16), bfloat16 and f32. Widening is exact; narrowing rounds to nearest,
 * ties to even (what PyTorch's `.to(torch.bfloat16)` / `.half()` do), with subnormals, infinities and NaN kept.
 */

// Scalar conversions are the runtime's (one implementation engine-wide); this file adds the bulk array forms.
import { f16BitsToNumber, numberToBf16Bits, numberToF16Bits } from '../runtime/dtype.js';

export { f16BitsToNumber, numberToBf16Bits, numberToF16Bits };

let f16Table: Float32Array | undefined;
/** Lookup table of all 65536 f16 values (256 KiB, built on first use). */
function f16ToF32Table(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16BitsToNumber(h);
  }
  return f16Table;
}

export function f16ToF32(bits: Uint16Array, out = new Float32Array(bits.length)): Float32Array {
  const t = f16ToF32Table();
  for (let i = 0; i < bits.length; i++) out[i] = t[bits[i]!]!;
  return out;
}

export function bf16ToF32(bits: Uint16Array, out = new Float32Array(bits.length)): Float32Array {
  const o = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < bits.length; i++) o[i] = bits[i]! << 16;
  return out;
}

export function f32ToBf16(src: ArrayLike<number>, out = new Uint16Array(src.length)): Uint16Array {
  for (let i = 0; i < src.length; i++) out[i] = numberToBf16Bits(src[i]!);
  return out;
}

export function f32ToF16(src: ArrayLike<number>, out = new Uint16Array(src.length)): Uint16Array {
  for (let i = 0; i < src.length; i++) out[i] = numberToF16Bits(src[i]!);
  return out;
}
