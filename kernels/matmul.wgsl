// Matrix product for prefill:  y[m, col0 + n] (+)= Σ_k x[m, k]·W[n, k] (+ b[col0 + n]).
// One weight part is bound per dispatch: its rows are the output columns col0 .. col0 + p.n; y's rows are
// p.ldy elements apart.
//
// Register-blocked without workgroup memory or barriers (both are very slow on lavapipe, setup-notes §2):
// each invocation computes a TM×TN tile of y, walking K in 4-element blocks (act4 loads of x; one vec4<f32>
// or one vec2<u32> of packed 16-bit weights per row), accumulating in f32.
//
// Defines: W_F16 / W_BF16 with W16 (16-bit weights packed two per u32; else f32), ACT_F16, HAS_BIAS,
// UNALIGNED (K % 4 != 0: element-wise loop).

override WG: u32 = 64u;
const TM = 4u; // x rows per invocation
const TN = 4u; // weight rows (output columns) per invocation

struct Params { m: u32, n: u32, k: u32, col0: u32, ldy: u32, acc: u32 }
@group(0) @binding(0) var<uniform> p: Params;
alias WBlock16 = vec2<u32>; // 4 packed 16-bit weights
#include "_weights.wgsl" // x, w, y, bias; UNALIGNED: weight(e)

#if !UNALIGNED
#include "_weight4.wgsl" // weight4
#endif

#include "_matmul_tile.wgsl" // tileOf, storeTile

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  var tile = tileOf(wid, nwg, lid);
  // acc[i][j]: x row m0+i times weight row n0+j.
  var acc: array<vec4f, TM>;

#if UNALIGNED
  for (var k = 0u; k < p.k; k++) {
    let wk = vec4f(weight(tile.ns[0] * p.k + k), weight(tile.ns[1] * p.k + k),
                   weight(tile.ns[2] * p.k + k), weight(tile.ns[3] * p.k + k));
    for (var i = 0u; i < TM; i++) { acc[i] += f32(x[tile.ms[i] * p.k + k]) * wk; }
  }
#else
  let blocks = p.k / 4u;
  for (var b = 0u; b < blocks; b++) {
    // Columns of wt are the tile's 4 weight rows at one k: wt * xv sums over the block's 4 k.
    let wt = transpose(mat4x4f(weight4(tile.ns[0], blocks, b), weight4(tile.ns[1], blocks, b),
                               weight4(tile.ns[2], blocks, b), weight4(tile.ns[3], blocks, b)));
    for (var i = 0u; i < TM; i++) { acc[i] += wt * vec4f(x[tile.ms[i] * blocks + b]); }
  }
#endif

  storeTile(tile, acc);
}
