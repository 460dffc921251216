// Matrix-vector product with 4-bit weights (decode):  y[col0 + n] (+)= Σ_k x[k]·W[n, k] (+ b[col0 + n]), W in the
// q4 layout of _q4.wgsl (dequantization fused, never stored). One weight slice is bound per dispatch: its rows are
// the output columns col0 .. col0 + p.n.
//
// Layout as in matvec.wgsl: each invocation owns R consecutive weight rows and walks K one group at a time, one
// word (8 elements) per step, so each x load and its pre-scaling serve R rows (on lavapipe every load with a
// computed offset is a per-lane scalar load, bench/NOTES.md). T invocations may share the rows and split the
// words of every group (T > 1, the GPU layout: neighbouring lanes read neighbouring words; partial sums meet in
// workgroup memory). Per group and row: Σ code·x and the shared Σ x, then scale·(Σ code·x − zero·Σ x).
//
// Defines: ACT_F16 (x/y are f16), HAS_BIAS. K must be a multiple of the group, the group a multiple of 8.

override WG: u32 = 64u; // invocations per workgroup
override T: u32 = 1u;   // invocations sharing one group of R rows: a power of two dividing WG
const R = 4u;           // weight rows per invocation
const MAX_WG = 256u;

struct Params { n: u32, k: u32, col0: u32, acc: u32, group: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<act4>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read> sz: array<u32>;
@group(0) @binding(4) var<storage, read_write> y: array<act>;
#if HAS_BIAS
@group(0) @binding(5) var<storage, read> bias: array<f32>;
#endif
#include "_q4.wgsl"

var<workgroup> partial: array<f32, MAX_WG * R>;

fn store(n: u32, s: f32) {
  let col = p.col0 + n;
  var v = s;
#if HAS_BIAS
  v += bias[col];
#endif
  if (p.acc != 0u) { v += f32(y[col]); }
  y[col] = act(v);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let group = wid.x + wid.y * nwg.x;
  let t = lid % T;
  let row0 = ((group * WG + lid) / T) * R;
  // Rows past the slice are clamped (computed twice, never stored): no divergent early exit.
  var rows: array<u32, R>;
  for (var r = 0u; r < R; r++) { rows[r] = min(row0 + r, p.n - 1u); }
  let words = p.k / 8u;
  let gw = p.group / 8u;
  let groups = p.k / p.group;
  var sums: array<f32, R>;
  for (var g = 0u; g < groups; g++) {
    // Explicit zeroing: a var declared in a loop body kept its previous iteration's value on this stack.
    var acc: array<vec4f, R>;
    for (var r = 0u; r < R; r++) { acc[r] = vec4f(0.0); }
    var xs = vec4f(0.0);
    let end = (g + 1u) * gw;
    for (var j = g * gw + t; j < end; j += T) {
      let xa = vec4f(x[2u * j]);
      let xb = vec4f(x[2u * j + 1u]);
      xs += xa + xb;
      let sa = xa * Q4_XA;
      let sb = xb * Q4_XB;
      for (var r = 0u; r < R; r++) {
        let q = w[rows[r] * words + j];
        acc[r] += q4Lo(q) * sa + q4Hi(q) * sb;
      }
    }
    let xsum = (xs.x + xs.y) + (xs.z + xs.w);
    for (var r = 0u; r < R; r++) {
      let s = q4ScaleZero(sz[rows[r] * groups + g]);
      let a = acc[r];
      sums[r] += s.x * (((a.x + a.y) + (a.z + a.w)) - s.y * xsum);
    }
  }

  if (T > 1u) {
    for (var r = 0u; r < R; r++) { partial[lid * R + r] = sums[r]; }
    workgroupBarrier();
    if (t == 0u) {
      for (var r = 0u; r < R; r++) {
        var s = 0.0;
        for (var u = 0u; u < T; u++) { s += partial[(lid + u) * R + r]; }
        sums[r] = s;
      }
    }
  }
  if (t == 0u) {
    for (var r = 0u; r < R; r++) {
      if (row0 + r < p.n) { store(row0 + r, sums[r]); }
    }
  }
}
