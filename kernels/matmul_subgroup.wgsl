// Matrix product (prefill) for CPU adapters:  y[m, col0 + n] (+)= Σ_k x[m, k]·W[n, k] (+ b[col0 + n]), weights f32,
// f16 or bf16 as in matmul.wgsl. Needs SUBGROUPS and subgroups of at least 8 invocations (src/ops/matmul.ts picks
// it for CPU adapters that have them and K a multiple of 4; matmul.wgsl serves everything else).
//
// The layout of matmul_q4_subgroup.wgsl (bench/NOTES.md, "Prefill on lavapipe: rows of x shared through
// subgroups"): a workgroup is one subgroup of 8 lanes sharing TM = 8 rows of x; lane l loads row l alone and every
// lane reads all 8 through subgroupShuffle with a constant lane, a register move where lavapipe's loads are
// per-lane loops. Each lane owns TN = 4 weight rows, walking K in 4-element blocks.
//
// Defines: W_F16 / W_BF16 with W16 (16-bit weights packed two per u32; else f32), ACT_F16, HAS_BIAS.

const LANES = 8u; // invocations per workgroup: one subgroup
const TM = 8u;    // x rows per workgroup: one per lane
const TN = 4u;    // weight rows per lane

struct Params { m: u32, n: u32, k: u32, col0: u32, ldy: u32, acc: u32 }
@group(0) @binding(0) var<uniform> p: Params;
alias WBlock16 = vec2<u32>; // 4 packed 16-bit weights
#include "_weights.wgsl" // x, w, y, bias
#include "_weight4.wgsl" // weight4
#include "_matmul_tile.wgsl" // tileOf, addSharedRows, storeTile

@compute @workgroup_size(LANES)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(subgroup_invocation_id) lane: u32) {
  let t = tileOf(wid, nwg, lane);
  let n = vec4u(t.ns[0], t.ns[1], t.ns[2], t.ns[3]); // the lane's weight rows
  let blocks = p.k / 4u;
  let xrow = min(t.m0 + lane, p.m - 1u) * blocks; // the row this lane loads for all
  // acc[i][j]: x row m0 + i times weight row n0 + j.
  var acc: array<vec4f, TM>;
  for (var b = 0u; b < blocks; b++) {
    let xv = vec4f(x[xrow + b]);
    // Columns: the block's 4 elements; rows: the lane's weight rows.
    let wt = transpose(mat4x4f(weight4(n.x, blocks, b), weight4(n.y, blocks, b), weight4(n.z, blocks, b), weight4(n.w, blocks, b)));
    addSharedRows(&acc, wt, xv);
  }
  storeTile(t, acc);
}
