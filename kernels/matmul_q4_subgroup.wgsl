// Matrix product with 4-bit weights (prefill) for CPU adapters:  y[m, col0 + n] (+)= Σ_k x[m, k]·W[n, k] (+ b[col0 + n]),
// W in the q4 layout of _q4.wgsl. Needs SUBGROUPS and subgroups of at least 8 invocations (src/ops/matmul-q4.ts
// picks it for CPU adapters that have them; matmul_q4.wgsl serves every other adapter).
//
// Why (bench/NOTES.md, "Prefill on lavapipe: rows of x shared through subgroups"): lavapipe runs a storage load
// with a computed offset as a loop over its 8 SIMD lanes, so with each invocation loading the x rows of its own
// tile (matmul_q4.wgsl) the loads of x cost more than the arithmetic. Here a workgroup is one subgroup of 8 lanes
// sharing TM = 8 rows of x: lane l loads row l alone (pre-scaled as _q4.wgsl describes) and every lane reads all 8
// rows through subgroupShuffle with a constant lane, a register move (_matmul_tile.wgsl, addSharedRows). Each lane
// owns TN = 4 weight rows; each extracted code serves the 8 rows. Per group, Σ code·x and Σ x (summed by the lane
// that loaded the row, shuffled once) are folded with the 4 scales and zero points.
//
// Defines: ACT_F16, HAS_BIAS, Q4_ROW_BLOCKS (the code layout, _q4.wgsl). K must be a multiple of the group, the
// group a multiple of 8.

const LANES = 8u; // invocations per workgroup: one subgroup
const TM = 8u;    // x rows per workgroup: one per lane
const TN = 4u;    // weight rows per lane

struct Params { m: u32, n: u32, k: u32, col0: u32, ldy: u32, acc: u32, group: u32 }
@group(0) @binding(0) var<uniform> p: Params;
#include "_q4.wgsl" // bindings 1..5: x, w, sz, y, bias
#include "_matmul_tile.wgsl" // tileOf, addSharedRows, storeTile

// Codes of element e of a word for 4 weight rows (q: their words), times 16^e (e < 7) or 1 (e = 7), as _q4.wgsl.
fn codes(q: vec4u, e: u32) -> vec4f {
  if (e == 7u) { return vec4f(vec4i(q >> vec4u(28u))); }
  return vec4f(vec4i(q & vec4u(15u << (4u * e))));
}

@compute @workgroup_size(LANES)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(subgroup_invocation_id) lane: u32) {
  let t = tileOf(wid, nwg, lane);
  let n = vec4u(t.ns[0], t.ns[1], t.ns[2], t.ns[3]); // the lane's weight rows
  let xrow = min(t.m0 + lane, p.m - 1u) * (p.k / 4u); // the row this lane loads for all
  let gw = p.group / 8u;
  let groups = p.k / p.group;
  // out[i][j], acc[i][j]: x row m0 + i times weight row n0 + j (acc: Σ code·x of the current group).
  var out: array<vec4f, TM>;
  for (var g = 0u; g < groups; g++) {
    // Explicit zeroing: a var declared in a loop body kept its previous iteration's value on this stack.
    var acc: array<vec4f, TM>;
    for (var i = 0u; i < TM; i++) { acc[i] = vec4f(0.0); }
    var xs = vec4f(0.0);
    for (var wd = g * gw; wd < (g + 1u) * gw; wd++) {
      let xa = vec4f(x[xrow + 2u * wd]);
      let xb = vec4f(x[xrow + 2u * wd + 1u]);
      xs += xa + xb;
      let sa = xa * Q4_XA;
      let sb = xb * Q4_XB;
      let q = vec4u(w[q4Word(n.x, wd)], w[q4Word(n.y, wd)], w[q4Word(n.z, wd)], w[q4Word(n.w, wd)]);
      // Columns: elements 0..3 (lo), 4..7 (hi) of the word; rows: the lane's weight rows. Halves keep the sums, the
      // codes and the shuffled x close to the 32 vector registers.
      let lo = mat4x4f(codes(q, 0u), codes(q, 1u), codes(q, 2u), codes(q, 3u));
      addSharedRows(&acc, lo, sa);
      let hi = mat4x4f(codes(q, 4u), codes(q, 5u), codes(q, 6u), codes(q, 7u));
      addSharedRows(&acc, hi, sb);
    }
    let s0 = q4ScaleZero(sz[n.x * groups + g]);
    let s1 = q4ScaleZero(sz[n.y * groups + g]);
    let s2 = q4ScaleZero(sz[n.z * groups + g]);
    let s3 = q4ScaleZero(sz[n.w * groups + g]);
    let scale = vec4f(s0.x, s1.x, s2.x, s3.x);
    let zero = vec4f(s0.y, s1.y, s2.y, s3.y);
    let xsum = (xs.x + xs.y) + (xs.z + xs.w); // Σ x of row m0 + lane in this group
    out[0] += scale * (acc[0] - zero * subgroupShuffle(xsum, 0u));
    out[1] += scale * (acc[1] - zero * subgroupShuffle(xsum, 1u));
    out[2] += scale * (acc[2] - zero * subgroupShuffle(xsum, 2u));
    out[3] += scale * (acc[3] - zero * subgroupShuffle(xsum, 3u));
    out[4] += scale * (acc[4] - zero * subgroupShuffle(xsum, 4u));
    out[5] += scale * (acc[5] - zero * subgroupShuffle(xsum, 5u));
    out[6] += scale * (acc[6] - zero * subgroupShuffle(xsum, 6u));
    out[7] += scale * (acc[7] - zero * subgroupShuffle(xsum, 7u));
  }
  storeTile(t, out);
}
