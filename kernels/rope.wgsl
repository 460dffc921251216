// Rotary embedding in place on a strided view, f32 math: per row r, head h, and d < half = headDim/2,
//   x[d]        ← x[d]·cos[d] − x[d + half]·sin[d]
//   x[d + half] ← x[d + half]·cos[d] + x[d]·sin[d]
// (y = x·cos + rotate_half(x)·sin with emb = [θ, θ]). table[r] = [cos θ_0..θ_{half-1}, sin θ_0..θ_{half-1}], built on
// the CPU (src/model/rope-tables.ts), so the same kernel serves vision 2-D RoPE, M-RoPE and 1-D RoPE.

struct P { n: u32, heads: u32, half: u32, stride: u32, offset: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> x: array<act>;
@group(0) @binding(2) var<storage, read> table: array<f32>;

const WG = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.n) { return; }
  let d = i % p.half;
  let rh = i / p.half;
  let h = rh % p.heads;
  let r = rh / p.heads;
  let a = r * p.stride + p.offset + h * 2u * p.half + d;
  let c = table[2u * p.half * r + d];
  let s = table[2u * p.half * r + p.half + d];
  let x0 = f32(x[a]);
  let x1 = f32(x[a + p.half]);
  x[a] = act(x0 * c - x1 * s);
  x[a + p.half] = act(x1 * c + x0 * s);
}
