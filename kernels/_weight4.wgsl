// 4-element weight blocks of matmul.wgsl and matmul_subgroup.wgsl (after _weights.wgsl, with WBlock16 = vec2<u32>).
// Defines: W_F16 / W_BF16 (16-bit weights packed two per u32; else f32).

// Elements 4b .. 4b+3 of weight row `row` of the bound part (`blocks` blocks per row).
fn weight4(row: u32, blocks: u32, b: u32) -> vec4f {
#if W_BF16
  let q = w[row * blocks + b];
  return vec4f(bitcast<f32>(q.x << 16u), bitcast<f32>(q.x & 0xffff0000u),
               bitcast<f32>(q.y << 16u), bitcast<f32>(q.y & 0xffff0000u));
#elif W_F16
  let q = w[row * blocks + b];
  return vec4f(unpack2x16float(q.x), unpack2x16float(q.y));
#else
  return w[row * blocks + b];
#endif
}
