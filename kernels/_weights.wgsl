// Bindings 1..4 and element-wise weight access shared by matmul.wgsl and matmul_vec.wgsl:
// x (act4 rows; UNALIGNED: act), the bound weight part w, y, and with HAS_BIAS the f32 bias.
// The includer declares `alias WBlock16`: the packed 16-bit weight words its aligned loop loads at once
// (vec2<u32> = 4 weights, vec4<u32> = 8); aligned f32 weights are always read as vec4<f32>.
// Defines: W16 (with W_F16 / W_BF16), UNALIGNED, HAS_BIAS.
#if UNALIGNED
@group(0) @binding(1) var<storage, read> x: array<act>;
#else
@group(0) @binding(1) var<storage, read> x: array<act4>;
#endif
#if W16
#if UNALIGNED
@group(0) @binding(2) var<storage, read> w: array<u32>;
#else
@group(0) @binding(2) var<storage, read> w: array<WBlock16>;
#endif
#else
#if UNALIGNED
@group(0) @binding(2) var<storage, read> w: array<f32>;
#else
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;
#endif
#endif
@group(0) @binding(3) var<storage, read_write> y: array<act>;
#if HAS_BIAS
@group(0) @binding(4) var<storage, read> bias: array<f32>;
#endif

#if UNALIGNED
// Weight element e of the bound part (16-bit: element e is the low half of word e/2 when e is even).
fn weight(e: u32) -> f32 {
#if W_BF16
  let word = w[e >> 1u];
  return bitcast<f32>(select(word << 16u, word & 0xffff0000u, (e & 1u) == 1u));
#elif W_F16
  let v = unpack2x16float(w[e >> 1u]);
  return select(v.x, v.y, (e & 1u) == 1u);
#else
  return w[e];
#endif
}
#endif
