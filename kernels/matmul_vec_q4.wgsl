// Matrix-vector product with 4-bit weights (decode):  y[col0 + n] (+)= Σ_k x[k]·W[n, k] (+ b[col0 + n]), W in the
// q4 layout of _q4.wgsl (dequantization fused, never stored). One weight slice is bound per dispatch: its rows are
// the output columns col0 .. col0 + p.n.
//
// Layout as in matvec.wgsl: each invocation owns R consecutive weight rows and walks K one group at a time, one
// word (8 elements) per step, so each x load and its pre-scaling serve R rows (on lavapipe every load with a
// computed offset is a per-lane scalar load, bench/NOTES.md). T invocations may share the rows and split their
// groups (T > 1, the GPU layout: lane t takes every T-th group; partial sums meet in workgroup memory). Per group
// and row: Σ code·x and the shared Σ x, then scale·(Σ code·x − zero·Σ x).
//
// Defines: ACT_F16 (x/y are f16), HAS_BIAS, Q4_ROW_BLOCKS (the code layout, _q4.wgsl). K must be a multiple of the
// group, the group a multiple of 8.
// SHARE_X (with SUBGROUPS; T = 1, subgroups of at least 8 lanes, the group a multiple of 64): every lane of a
// subgroup walks the same words, so lane l loads the x of word l of each 8-word block and the others read it with
// subgroupShuffle — one x load per 8 words instead of one per word (1.3-1.5x on lavapipe, bench/NOTES.md).
// The decode step's fusions, as in matmul_vec.wgsl: NORM_IN (x is RMS-normalised inside: x·g is what the group sums
// see, Σx² is summed on the way and the row sums scaled at the end) and SILU_PAIRS (out[j] = silu(gate_j)·up_j:
// an invocation owns 2 outputs, gate rows row_a + j, j+1 of (w, sz) and up rows row_b + j, j+1 of (w2, sz2)).

override WG: u32 = 64u; // invocations per workgroup
override T: u32 = 1u;   // invocations sharing one group of R rows: a power of two dividing WG
const R = 4u;           // weight rows per invocation
const MAX_WG = 256u;

struct Params { n: u32, k: u32, col0: u32, acc: u32, group: u32, row_a: u32, row_b: u32, eps: f32 }
@group(0) @binding(0) var<uniform> p: Params;
#include "_q4.wgsl" // bindings 1..5: x, w, sz, y, bias
// Bindings after the bias (literal numbers: the kernel registry reads them). SILU_PAIRS has no bias.
#if SILU_PAIRS
@group(0) @binding(5) var<storage, read> w2: array<u32>;
@group(0) @binding(6) var<storage, read> sz2: array<u32>;
#if NORM_IN
@group(0) @binding(7) var<storage, read> g_norm: array<vec4f>;
#endif
const OUTS = 2u; // outputs per invocation
#else
#if NORM_IN
#if HAS_BIAS
@group(0) @binding(6) var<storage, read> g_norm: array<vec4f>;
#else
@group(0) @binding(5) var<storage, read> g_norm: array<vec4f>;
#endif
#endif
const OUTS = R;
#endif

#include "_matvec_out.wgsl" // rowGroup, store, finishRows

fn codeWord(row: u32, j: u32, second: bool) -> u32 {
#if SILU_PAIRS
  if (second) { return w2[q4Word(row, j)]; }
#endif
  return w[q4Word(row, j)];
}

fn groupWord(row: u32, g: u32, second: bool) -> u32 {
#if SILU_PAIRS
  if (second) { return sz2[row * (p.k / p.group) + g]; }
#endif
  return sz[row * (p.k / p.group) + g];
}

// acc[r] += Σ code·x of word j of the R rows, x pre-scaled (sa: elements 0..3, sb: 4..7).
fn addWord(acc: ptr<function, array<vec4f, R>>, rows: array<u32, R>, second: array<bool, R>, j: u32, sa: vec4f, sb: vec4f) {
  for (var r = 0u; r < R; r++) {
    let q = codeWord(rows[r], j, second[r]);
    (*acc)[r] += q4Lo(q) * sa + q4Hi(q) * sb;
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
#if SHARE_X
        @builtin(subgroup_invocation_id) lane: u32,
#endif
        @builtin(local_invocation_index) lid: u32) {
  let group = wid.x + wid.y * nwg.x;
  let t = lid % T;
  let out0 = ((group * WG + lid) / T) * OUTS; // first output of this invocation's row group
  let rg = rowGroup(out0);
  var rows = rg.rows;
  var second = rg.second;
  let gw = p.group / 8u;
  let groups = p.k / p.group;
  var sums: array<f32, R + 1u>;
  var ss = vec4f(0.0);
#if SHARE_X
  for (var g = 0u; g < groups; g++) {
#else
  // Lane t of the T sharing these rows takes groups t, t + T, ... whole: every lane has work whatever the group
  // size, and the rows' words are spread over T lanes at once (an H200 ran 4-8x slower with T lanes splitting
  // each group's 16 words, most of them idle or waiting on one long walk).
  for (var g = t; g < groups; g += T) {
#endif
    // Explicit zeroing: a var declared in a loop body kept its previous iteration's value on this stack.
    var acc: array<vec4f, R>;
    for (var r = 0u; r < R; r++) { acc[r] = vec4f(0.0); }
    var xs = vec4f(0.0);
    let end = (g + 1u) * gw;
#if SHARE_X
    // Blocks of 8 words: lane l loads (and normalises) word j0 + l's x, the block's words take it by shuffle.
    for (var j0 = g * gw; j0 < end; j0 += 8u) {
      let j = j0 + lane % 8u;
#else
    for (var j = g * gw; j < end; j++) {
#endif
      var xa = vec4f(x[2u * j]);
      var xb = vec4f(x[2u * j + 1u]);
#if NORM_IN
      ss = fma(xa, xa, fma(xb, xb, ss));
      xa *= g_norm[2u * j];
      xb *= g_norm[2u * j + 1u];
#endif
      xs += xa + xb;
      let sa = xa * Q4_XA;
      let sb = xb * Q4_XB;
#if SHARE_X
      // A loop, not 8 copies: the unrolled block outgrew the instruction cache (1.3-1.7x slower).
      for (var jw = j0; jw < j0 + 8u; jw++) {
        addWord(&acc, rows, second, jw, subgroupShuffle(sa, jw - j0), subgroupShuffle(sb, jw - j0));
      }
#else
      addWord(&acc, rows, second, j, sa, sb);
#endif
    }
#if SHARE_X
    xs = subgroupAdd(select(vec4f(0.0), xs, lane < 8u)); // lanes past 8 (wider subgroups) repeat words
#endif
    let xsum = (xs.x + xs.y) + (xs.z + xs.w);
    for (var r = 0u; r < R; r++) {
      let s = q4ScaleZero(groupWord(rows[r], g, second[r]));
      let a = acc[r];
      sums[r] += s.x * (((a.x + a.y) + (a.z + a.w)) - s.y * xsum);
    }
  }
#if SHARE_X
  ss = subgroupAdd(select(vec4f(0.0), ss, lane < 8u));
#endif
  sums[R] = (ss.x + ss.y) + (ss.z + ss.w);
  finishRows(sums, lid, t, out0);
}
