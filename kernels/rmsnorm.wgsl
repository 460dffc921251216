// RMSNorm, one workgroup per normalised vector ("unit"): y = x · rsqrt(mean(x²) + eps) · w, f32 math.
// Unit u is head (u % heads) of row (u / heads); its first element is at
// (u / heads) * stride + offset + (u % heads) * dim, so the same code serves whole rows (heads = 1) and the
// per-head q/k norms of Qwen3 inside a fused qkv buffer.
// Variants: RESIDUAL (x ← x + r in place first, the norm then uses the stored sum), IN_PLACE (y is x).
// WG must be a power of two (tree reduction).

struct P { units: u32, heads: u32, dim: u32, stride: u32, offset: u32, eps: f32 }
@group(0) @binding(0) var<uniform> p: P;
#if IN_PLACE
@group(0) @binding(1) var<storage, read_write> x: array<act>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
#elif RESIDUAL
@group(0) @binding(1) var<storage, read_write> x: array<act>;
@group(0) @binding(2) var<storage, read> r: array<act>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<act>;
#else
@group(0) @binding(1) var<storage, read> x: array<act>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<act>;
#endif

override WG: u32 = 256;
var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  // Every invocation of a group shares `u`, so the early exit keeps the barriers below in uniform control flow.
  let u = wid.x + wid.y * nwg.x;
  if (u >= p.units) { return; }
  let base = (u / p.heads) * p.stride + p.offset + (u % p.heads) * p.dim;

  var ss = 0.0;
  for (var c = lid; c < p.dim; c += WG) {
#if RESIDUAL
    // The residual stream is stored in act; normalise exactly what was stored.
    let h = act(f32(x[base + c]) + f32(r[base + c]));
    x[base + c] = h;
    let v = f32(h);
#else
    let v = f32(x[base + c]);
#endif
    ss += v * v;
  }
  partial[lid] = ss;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { partial[lid] += partial[lid + s]; }
    workgroupBarrier();
  }
  let inv = inverseSqrt(partial[0] / f32(p.dim) + p.eps);

  for (var c = lid; c < p.dim; c += WG) {
#if IN_PLACE
    x[base + c] = act(f32(x[base + c]) * inv * w[c]);
#else
    y[base + c] = act(f32(x[base + c]) * inv * w[c]);
#endif
  }
}
