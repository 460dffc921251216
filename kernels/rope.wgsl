// Rotary embedding in place on a strided view, f32 math: per row r, head h, and d < half = headDim/2,
//   x[d]        ← x[d]·cos[d] − x[d + half]·sin[d]
//   x[d + half] ← x[d + half]·cos[d] + x[d]·sin[d]
// (y = x·cos + rotate_half(x)·sin with emb = [θ, θ]). table[r] = [cos θ_0..θ_{half-1}, sin θ_0..θ_{half-1}], built on
// the CPU (src/ops/rope-tables.ts), so the same kernel serves vision 2-D RoPE, M-RoPE and 1-D RoPE.
// With VEC4 an item is four consecutive d (act4 loads); p.half, p.stride and p.offset are then counted in items.
// Layouts: ROW: one invocation per row, each table item loaded once and applied to every head (CPU adapters:
// contiguous per-invocation streams, few loads). Otherwise one invocation per (row, head, item), p.n of them
// (GPUs: coalesced).

struct P { n: u32, heads: u32, half: u32, stride: u32, offset: u32 }
@group(0) @binding(0) var<uniform> p: P;
#include "_items.wgsl" // V, F
#include "_rope.wgsl" // ropePair()
@group(0) @binding(1) var<storage, read_write> x: array<V>;
@group(0) @binding(2) var<storage, read> table: array<F>;

override WG: u32 = 256;

fn rotate(a: u32, c: F, s: F) {
  let y = ropePair(F(x[a]), F(x[a + p.half]), c, s);
  x[a] = V(y[0]);
  x[a + p.half] = V(y[1]);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.n) { return; }
#if ROW
  let r = i;
  let row = r * p.stride + p.offset;
  for (var d = 0u; d < p.half; d++) {
    let c = table[2u * p.half * r + d];
    let s = table[2u * p.half * r + p.half + d];
    for (var h = 0u; h < p.heads; h++) { rotate(row + h * 2u * p.half + d, c, s); }
  }
#else
  let d = i % p.half;
  let rh = i / p.half;
  let h = rh % p.heads;
  let r = rh / p.heads;
  rotate(r * p.stride + p.offset + h * 2u * p.half + d, table[2u * p.half * r + d], table[2u * p.half * r + p.half + d]);
#endif
}
