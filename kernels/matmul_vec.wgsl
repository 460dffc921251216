// Matrix-vector product for decode (one activation row):  y[col0 + n] (+)= Σ_k x[k]·W[n, k] (+ b[col0 + n]).
// One weight part is bound per dispatch: its rows row_a .. row_a + p.n - 1 are the output columns col0 .. col0 + p.n - 1.
//
// Layout: each invocation owns R consecutive weight rows and walks K in 8-element blocks (one vec4<u32> of
// packed 16-bit weights, or two vec4<f32>). T invocations may share the same R rows and split the blocks
// (T > 1: partial sums meet in workgroup memory, one barrier) — the layout for GPUs, whose neighbouring lanes
// should read neighbouring words. T = 1 is the layout for lavapipe, where every non-constant-offset load is a
// per-lane scalar loop anyway: giving each lane its own rows keeps loads of x shared by R rows (bench/NOTES.md).
//
// Defines: W_F16 / W_BF16 with W16 (16-bit weights packed two per u32; else f32), ACT_F16 (x/y are f16),
// HAS_BIAS, UNALIGNED (K % 8 != 0: element-wise loop). No subgroup variant: for 16-bit weights, sharing x through
// subgroup shuffles or broadcasts measured slower on lavapipe than each lane loading it (bench/NOTES.md; the q4
// kernel's SHARE_X and the matrix kernels matmul_subgroup.wgsl and matmul_q4_subgroup.wgsl do share x that way).
// Fusions of the decode step (src/ops/matmul.ts `linear` options, `linearSiluMul`):
//   NORM_IN     y = rmsnorm(x)·Wᵀ: x is the un-normalised residual stream, g (f32 [K]) the norm weight. The loop
//               loads g with x (shared by the R rows) and sums x² on the way; the row sums are scaled by
//               rsqrt(Σx²/K + eps) at the end (the norm's separate dispatch and its round trip through memory go).
//   SILU_PAIRS  out[j] = silu(gate_j)·up_j of a fused [gate; up] weight: an invocation owns 2 outputs, i.e. gate
//               rows row_a + j, j+1 of w and up rows row_b + j, j+1 of w2 (w2 may be the same part as w).

override WG: u32 = 64u; // invocations per workgroup
override T: u32 = 1u;   // invocations sharing one group of R rows: a power of two dividing WG
const R = 4u;           // weight rows per invocation
const MAX_WG = 256u;

struct Params { n: u32, k: u32, col0: u32, acc: u32, row_a: u32, row_b: u32, eps: f32 }
@group(0) @binding(0) var<uniform> p: Params;
alias WBlock16 = vec4<u32>; // 8 packed 16-bit weights
#include "_weights.wgsl" // x, w, y, bias; UNALIGNED: weight(e)

// Bindings after the bias (literal numbers: the kernel registry reads them). SILU_PAIRS has no bias.
#if UNALIGNED
alias GNorm = f32;
#else
alias GNorm = vec4f;
#endif
#if SILU_PAIRS
#if W16
#if UNALIGNED
@group(0) @binding(4) var<storage, read> w2: array<u32>;
#else
@group(0) @binding(4) var<storage, read> w2: array<WBlock16>;
#endif
#else
#if UNALIGNED
@group(0) @binding(4) var<storage, read> w2: array<f32>;
#else
@group(0) @binding(4) var<storage, read> w2: array<vec4<f32>>;
#endif
#endif
#if NORM_IN
@group(0) @binding(5) var<storage, read> g: array<GNorm>;
#endif
const OUTS = 2u; // outputs per invocation
#else
#if NORM_IN
#if HAS_BIAS
@group(0) @binding(5) var<storage, read> g: array<GNorm>;
#else
@group(0) @binding(4) var<storage, read> g: array<GNorm>;
#endif
#endif
const OUTS = R;
#endif

#include "_matvec_out.wgsl" // rowGroup, store, finishRows

#if !UNALIGNED
// Row `row`'s 8-element block i as two vec4f (elements 0..3, 4..7). `second`: the row lives in w2 (SILU_PAIRS).
fn rowBlock(row: u32, blocks: u32, i: u32, second: bool) -> array<vec4f, 2> {
#if W16
  var q: vec4u;
#if SILU_PAIRS
  if (second) { q = w2[row * blocks + i]; } else { q = w[row * blocks + i]; }
#else
  q = w[row * blocks + i];
#endif
#if W_BF16
  // Word j holds elements 2j (low half) and 2j+1 (high half).
  let lo = bitcast<vec4f>(q << vec4u(16u));
  let hi = bitcast<vec4f>(q & vec4u(0xffff0000u));
#else
  let h0 = unpack2x16float(q.x);
  let h1 = unpack2x16float(q.y);
  let h2 = unpack2x16float(q.z);
  let h3 = unpack2x16float(q.w);
  let lo = vec4f(h0.x, h1.x, h2.x, h3.x);
  let hi = vec4f(h0.y, h1.y, h2.y, h3.y);
#endif
  // Even elements in lo, odd in hi: return them as the caller's (xe, xo) pairing expects.
  return array<vec4f, 2>(lo, hi);
#else
  let j = (row * blocks + i) * 2u;
#if SILU_PAIRS
  if (second) { return array<vec4f, 2>(w2[j], w2[j + 1u]); }
#endif
  return array<vec4f, 2>(w[j], w[j + 1u]);
#endif
}
#endif

#if UNALIGNED
fn weightOf(row: u32, k: u32, second: bool) -> f32 {
#if SILU_PAIRS
  if (second) {
    let e = row * p.k + k;
#if W_BF16
    let word = w2[e >> 1u];
    return bitcast<f32>(select(word << 16u, word & 0xffff0000u, (e & 1u) == 1u));
#elif W_F16
    let v = unpack2x16float(w2[e >> 1u]);
    return select(v.x, v.y, (e & 1u) == 1u);
#else
    return w2[e];
#endif
  }
#endif
  return weight(row * p.k + k);
}
#endif

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let group = wid.x + wid.y * nwg.x;
  let t = lid % T;
  let out0 = ((group * WG + lid) / T) * OUTS; // first output of this invocation's row group
  let rg = rowGroup(out0);
  var rows = rg.rows;
  var second = rg.second;
  var acc: array<vec4f, R>;
  var ss = vec4f(0.0);

#if UNALIGNED
  for (var k = t; k < p.k; k += T) {
    var xv = f32(x[k]);
#if NORM_IN
    ss.x = fma(xv, xv, ss.x);
    xv *= g[k];
#endif
    for (var r = 0u; r < R; r++) { acc[r].x += weightOf(rows[r], k, second[r]) * xv; }
  }
#else
  let blocks = p.k / 8u;
  for (var i = t; i < blocks; i += T) {
    var xa = vec4f(x[2u * i]);
    var xb = vec4f(x[2u * i + 1u]);
#if NORM_IN
    ss = fma(xa, xa, fma(xb, xb, ss));
    xa *= g[2u * i];
    xb *= g[2u * i + 1u];
#endif
#if W16
    // Packed 16-bit words pair the even and odd elements of the block.
    let xe = vec4f(xa.x, xa.z, xb.x, xb.z);
    let xo = vec4f(xa.y, xa.w, xb.y, xb.w);
#else
    let xe = xa;
    let xo = xb;
#endif
    for (var r = 0u; r < R; r++) {
      let wb = rowBlock(rows[r], blocks, i, second[r]);
      acc[r] += wb[0] * xe + wb[1] * xo;
    }
  }
#endif

  var sums: array<f32, R + 1u>;
  for (var r = 0u; r < R; r++) { sums[r] = (acc[r].x + acc[r].y) + (acc[r].z + acc[r].w); }
  sums[R] = (ss.x + ss.y) + (ss.z + ss.w);
  finishRows(sums, lid, t, out0);
}
