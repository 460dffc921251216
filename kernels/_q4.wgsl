// The q4 weight layout shared by matmul_vec_q4.wgsl and matmul_q4.wgsl (packed at load by src/ops/matmul-q4.ts):
// `w` is [rows, K/8] u32, word j of a row holding the 4-bit codes of elements 8j..8j+7, element 8j+i in bits
// 4i..4i+3; `sz` is [rows, K/group] u32, the group's f16 scale in the low half and its zero point in the high half.
// Weight = (code − zero)·scale. Nothing dequantized is stored: per group a kernel sums code·x and x, then
// Σ W·x = scale·(Σ code·x − zero·Σ x).
//
// Extraction costs two operations per weight (mask, convert): `f32(word & (15 << 4i))` is code·16^i exactly (an
// integer with four significant bits), so x is pre-scaled by 16^-i instead of shifting every code; the top code
// (bits 28..31, which would be negative as i32) is shifted down. Pre-scaling x by powers of two is exact, so the
// products equal code·x.
// 16^-i for the elements 0..3 and 4..7 of a word (element 7 is shifted down, not masked).
const Q4_XA = vec4f(1.0, 0.0625, 0.00390625, 0.000244140625);
const Q4_XB = vec4f(1.52587890625e-5, 9.5367431640625e-7, 5.9604644775390625e-8, 1.0);

// Codes of elements 0..3 of `q`, times 16^i.
fn q4Lo(q: u32) -> vec4f {
  return vec4f(vec4i(vec4u(q) & vec4u(0xfu, 0xf0u, 0xf00u, 0xf000u)));
}

// Codes of elements 4..7 of `q`, times 16^(i-4)·16^4 for 4..6 and 1 for element 7.
fn q4Hi(q: u32) -> vec4f {
  let m = vec4u(q) & vec4u(0xf0000u, 0xf00000u, 0xf000000u, 0u);
  return vec4f(vec4i(vec4u(m.xyz, q >> 28u)));
}

// (scale, zero) of one group.
fn q4ScaleZero(v: u32) -> vec2f {
  return vec2f(unpack2x16float(v).x, f32(v >> 16u));
}
