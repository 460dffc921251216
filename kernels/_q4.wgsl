// The q4 weight layout shared by matmul_vec_q4.wgsl, matmul_q4.wgsl and matmul_q4_subgroup.wgsl (packed at load by
// src/ops/matmul-q4.ts):
// `w` is [rows, K/8] u32 (row-major; Q4_ROW_BLOCKS below reorders the words), word j of a row holding the 4-bit
// codes of elements 8j..8j+7, element 8j+i in bits 4i..4i+3; `sz` is [rows, K/group] u32, the group's f16 scale in
// the low half and its zero point in the high half. Weight = (code − zero)·scale. Nothing dequantized is stored: per
// group a kernel sums code·x and x, then Σ W·x = scale·(Σ code·x − zero·Σ x).
//
// Extraction costs two operations per weight (mask, convert): `f32(word & (15 << 4i))` is code·16^i exactly (an
// integer with four significant bits), so x is pre-scaled by 16^-i instead of shifting every code; the top code
// (bits 28..31, which would be negative as i32) is shifted down. Pre-scaling x by powers of two is exact, so the
// products equal code·x.
// Q4_ROW_BLOCKS (the layout `uploadQ4` writes for CPU adapters, src/ops/matmul-q4.ts `q4RowBlock`): the code words of
// each 32 consecutive rows are interleaved word by word — word j of rows 32b..32b+31 are 32 consecutive u32 — so the
// 8 lanes of a lavapipe subgroup, owning 4 neighbouring rows each, read 128 consecutive bytes per word step instead
// of 32 words a row's length apart (on lavapipe 0.86-0.88x the decode product's time, 0.91-0.97x the prefill
// product's: bench/NOTES.md). Slices are padded to whole blocks with zero codes; `sz` stays row-major.
// `p.k` (the input width) comes from the includer's uniform.
fn q4Word(row: u32, j: u32) -> u32 {
#if Q4_ROW_BLOCKS
  return ((row / 32u) * (p.k / 8u) + j) * 32u + row % 32u;
#else
  return row * (p.k / 8u) + j;
#endif
}

// Bindings 1..5 of the q4 kernels: x (act4 rows), the codes w and group words sz of the bound weight slice, y and,
// with HAS_BIAS, the f32 bias.
@group(0) @binding(1) var<storage, read> x: array<act4>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read> sz: array<u32>;
@group(0) @binding(4) var<storage, read_write> y: array<act>;
#if HAS_BIAS
@group(0) @binding(5) var<storage, read> bias: array<f32>;
#endif

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
