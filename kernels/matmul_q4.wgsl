// Matrix product with 4-bit weights (prefill):  y[m, col0 + n] (+)= Σ_k x[m, k]·W[n, k] (+ b[col0 + n]), W in the
// q4 layout of _q4.wgsl (dequantization fused, never stored). One weight slice is bound per dispatch: its rows
// are the output columns col0 .. col0 + p.n; y's rows are p.ldy elements apart.
//
// Register-blocked like matmul.wgsl (no workgroup memory, no barriers): each invocation computes a TM×TN tile of
// y, walking K one group at a time, one word (8 elements) per step. Each extracted code serves TM rows of x and
// each pre-scaled x block TN weight rows; per group Σ code·x and Σ x are folded with the TN scales and zeros.
//
// Defines: ACT_F16, HAS_BIAS, Q4_ROW_BLOCKS (the code layout, _q4.wgsl). K must be a multiple of the group, the
// group a multiple of 8.

override WG: u32 = 64u;
const TM = 4u; // x rows per invocation
const TN = 4u; // weight rows (output columns) per invocation

struct Params { m: u32, n: u32, k: u32, col0: u32, ldy: u32, acc: u32, group: u32 }
@group(0) @binding(0) var<uniform> p: Params;
#include "_q4.wgsl" // bindings 1..5: x, w, sz, y, bias
#include "_matmul_tile.wgsl" // tileOf, storeTile

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  var tile = tileOf(wid, nwg, lid);
  let gw = p.group / 8u;
  let groups = p.k / p.group;
  // out[i][j]: x row m0+i times weight row n0+j.
  var out: array<vec4f, TM>;
  for (var g = 0u; g < groups; g++) {
    // Explicit zeroing: a var declared in a loop body kept its previous iteration's value on this stack.
    var acc: array<vec4f, TM>;
    var xs: array<vec4f, TM>;
    for (var i = 0u; i < TM; i++) { acc[i] = vec4f(0.0); xs[i] = vec4f(0.0); }
    let end = (g + 1u) * gw;
    for (var wd = g * gw; wd < end; wd++) {
      let q = vec4u(w[q4Word(tile.ns[0], wd)], w[q4Word(tile.ns[1], wd)],
                    w[q4Word(tile.ns[2], wd)], w[q4Word(tile.ns[3], wd)]);
      // Columns: the TN weight rows; rows: the word's elements 0..3 (lo) and 4..7 (hi), pre-scaled codes.
      let lo = transpose(mat4x4f(q4Lo(q.x), q4Lo(q.y), q4Lo(q.z), q4Lo(q.w)));
      let hi = transpose(mat4x4f(q4Hi(q.x), q4Hi(q.y), q4Hi(q.z), q4Hi(q.w)));
      for (var i = 0u; i < TM; i++) {
        let xa = vec4f(x[tile.ms[i] * (p.k / 4u) + 2u * wd]);
        let xb = vec4f(x[tile.ms[i] * (p.k / 4u) + 2u * wd + 1u]);
        xs[i] += xa + xb;
        acc[i] += lo * (xa * Q4_XA) + hi * (xb * Q4_XB);
      }
    }
    let s0 = q4ScaleZero(sz[tile.ns[0] * groups + g]);
    let s1 = q4ScaleZero(sz[tile.ns[1] * groups + g]);
    let s2 = q4ScaleZero(sz[tile.ns[2] * groups + g]);
    let s3 = q4ScaleZero(sz[tile.ns[3] * groups + g]);
    let scale = vec4f(s0.x, s1.x, s2.x, s3.x);
    let zero = vec4f(s0.y, s1.y, s2.y, s3.y);
    for (var i = 0u; i < TM; i++) {
      let xsum = (xs[i].x + xs[i].y) + (xs[i].z + xs[i].w);
      out[i] += scale * (acc[i] - zero * xsum);
    }
  }

  storeTile(tile, out);
}
