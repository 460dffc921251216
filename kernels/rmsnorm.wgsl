// RMSNorm of normalised vectors ("units"): y = x · rsqrt(mean(x²) + eps) · w, f32 math.
// Unit u is head (u % heads) of row (u / heads); its first item is at
// (u / heads) * stride + offset + (u % heads) * dim, so the same code serves whole rows (heads = 1) and the
// per-head q/k norms of Qwen3 inside a fused qkv buffer. With VEC4 an item is four consecutive elements (act4
// loads; dim, stride and offset are then counted in items).
// Layouts: COOP: one workgroup per unit, items strided across its invocations, tree reduction in workgroup
// memory (GPUs: coalesced, parallel within a unit; WG a power of two). Otherwise one invocation per group of up to
// 4 heads of one row walks them whole: no barriers, each invocation streams contiguous memory, and each weight
// item is loaded once for the group (CPU adapters, where every such load is a per-lane scalar load;
// bench/NOTES.md).
// Variants: RESIDUAL (x ← x + r in place first, the norm then uses the stored sum), IN_PLACE (y is x).

struct P { units: u32, heads: u32, dim: u32, stride: u32, offset: u32, eps: f32, elems: f32 }
@group(0) @binding(0) var<uniform> p: P;
#include "_items.wgsl" // V, F, total()
#if IN_PLACE
@group(0) @binding(1) var<storage, read_write> x: array<V>;
@group(0) @binding(2) var<storage, read> w: array<F>;
#elif RESIDUAL
@group(0) @binding(1) var<storage, read_write> x: array<V>;
@group(0) @binding(2) var<storage, read> r: array<V>;
@group(0) @binding(3) var<storage, read> w: array<F>;
@group(0) @binding(4) var<storage, read_write> y: array<V>;
#else
@group(0) @binding(1) var<storage, read> x: array<V>;
@group(0) @binding(2) var<storage, read> w: array<F>;
@group(0) @binding(3) var<storage, read_write> y: array<V>;
#endif

override WG: u32 = 256;
// Items per block of the sum of squares: no f32 addition chain is longer than BLOCK + dim / BLOCK per invocation.
const BLOCK = 32u;
#if COOP
var<workgroup> partial: array<f32, WG>;
#endif

// Partial sum of squares of items first, first + step, ... of the unit at `base`. RESIDUAL: stores x + r first.
fn sum_squares(base: u32, first: u32, step: u32) -> f32 {
  var ss = F(0.0);
  for (var c0 = first; c0 < p.dim; c0 += step * BLOCK) {
    let end = min(c0 + step * BLOCK, p.dim);
    var bs = F(0.0);
    for (var c = c0; c < end; c += step) {
#if RESIDUAL
      // The residual stream is stored in act; normalise exactly what was stored.
      let h = V(F(x[base + c]) + F(r[base + c]));
      x[base + c] = h;
      let v = F(h);
#else
      let v = F(x[base + c]);
#endif
      bs = fma(v, v, bs);
    }
    ss += bs;
  }
  return total(ss);
}

fn store(a: u32, v: F) {
#if IN_PLACE
  x[a] = V(v);
#else
  y[a] = V(v);
#endif
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
#if COOP
  // Every invocation of a group shares `u`, so the early exit keeps the barriers below in uniform control flow.
  let u = wid.x + wid.y * nwg.x;
  if (u >= p.units) { return; }
  let base = (u / p.heads) * p.stride + p.offset + (u % p.heads) * p.dim;
  partial[lid] = sum_squares(base, lid, WG);
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { partial[lid] += partial[lid + s]; }
    workgroupBarrier();
  }
  let inv = inverseSqrt(partial[0] / p.elems + p.eps);
  for (var c = lid; c < p.dim; c += WG) {
    store(base + c, F(x[base + c]) * inv * w[c]);
  }
#else
  // Heads h0 .. h0 + nh - 1 (nh <= 4) of one row.
  let groups = (p.heads + 3u) / 4u;
  let g = (wid.x + wid.y * nwg.x) * WG + lid;
  if (g >= (p.units / p.heads) * groups) { return; }
  let h0 = (g % groups) * 4u;
  let nh = min(4u, p.heads - h0);
  let base = (g / groups) * p.stride + p.offset + h0 * p.dim;
  var inv = vec4f(0.0);
  for (var j = 0u; j < nh; j++) {
    inv[j] = inverseSqrt(sum_squares(base + j * p.dim, 0u, 1u) / p.elems + p.eps);
  }
  for (var c = 0u; c < p.dim; c++) {
    let wc = w[c];
    for (var j = 0u; j < nh; j++) {
      let a = base + j * p.dim + c;
      store(a, F(x[a]) * inv[j] * wc);
    }
  }
#endif
}
