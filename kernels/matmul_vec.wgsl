// Matrix-vector product for decode (one activation row):  y[col0 + n] (+)= Σ_k x[k]·W[n, k] (+ b[col0 + n]).
// One weight part is bound per dispatch: its rows are the output columns col0 .. col0 + p.n.
//
// Layout: each invocation owns R consecutive weight rows and walks K in 8-element blocks (one vec4<u32> of
// packed 16-bit weights, or two vec4<f32>). T invocations may share the same R rows and split the blocks
// (T > 1: partial sums meet in workgroup memory, one barrier) — the layout for GPUs, whose neighbouring lanes
// should read neighbouring words. T = 1 is the layout for lavapipe, where every non-constant-offset load is a
// per-lane scalar loop anyway: giving each lane its own rows keeps loads of x shared by R rows (bench/NOTES.md).
//
// Defines: W_F16 / W_BF16 with W16 (16-bit weights packed two per u32; else f32), ACT_F16 (x/y are f16),
// HAS_BIAS, UNALIGNED (K % 8 != 0: element-wise loop). No subgroup variant: sharing x through subgroup
// shuffles or broadcasts measured slower on lavapipe than each lane loading it (bench/NOTES.md).

override WG: u32 = 64u; // invocations per workgroup
override T: u32 = 1u;   // invocations sharing one group of R rows: a power of two dividing WG
const R = 4u;           // weight rows per invocation
const MAX_WG = 256u;

struct Params { n: u32, k: u32, col0: u32, acc: u32 }
@group(0) @binding(0) var<uniform> p: Params;
alias WBlock16 = vec4<u32>; // 8 packed 16-bit weights
#include "_weights.wgsl" // x, w, y, bias; UNALIGNED: weight(e)

var<workgroup> partial: array<f32, MAX_WG * R>;

#if !UNALIGNED
// Σ over one 8-element block of weight row `row` times x; xa/xb are x's elements 0..3 and 4..7 of the block.
fn blockDot(row: u32, blocks: u32, i: u32, xa: vec4f, xb: vec4f) -> vec4f {
#if W16
  let q = w[row * blocks + i];
  // Word j holds elements 2j (low half) and 2j+1 (high half): pair the even and odd elements of x.
  let xe = vec4f(xa.x, xa.z, xb.x, xb.z);
  let xo = vec4f(xa.y, xa.w, xb.y, xb.w);
#if W_BF16
  return bitcast<vec4f>(q << vec4u(16u)) * xe + bitcast<vec4f>(q & vec4u(0xffff0000u)) * xo;
#else
  let h0 = unpack2x16float(q.x);
  let h1 = unpack2x16float(q.y);
  let h2 = unpack2x16float(q.z);
  let h3 = unpack2x16float(q.w);
  return vec4f(h0.x, h1.x, h2.x, h3.x) * xe + vec4f(h0.y, h1.y, h2.y, h3.y) * xo;
#endif
#else
  let j = (row * blocks + i) * 2u;
  return w[j] * xa + w[j + 1u] * xb;
#endif
}
#endif

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
  // Rows past the part are clamped (computed twice, never stored): no divergent early exit.
  var rows: array<u32, R>;
  for (var r = 0u; r < R; r++) { rows[r] = min(row0 + r, p.n - 1u); }
  var acc: array<vec4f, R>;

#if UNALIGNED
  for (var k = t; k < p.k; k += T) {
    let xv = f32(x[k]);
    for (var r = 0u; r < R; r++) { acc[r].x += weight(rows[r] * p.k + k) * xv; }
  }
#else
  let blocks = p.k / 8u;
  for (var i = t; i < blocks; i += T) {
    let xa = vec4f(x[2u * i]);
    let xb = vec4f(x[2u * i + 1u]);
    for (var r = 0u; r < R; r++) { acc[r] += blockDot(rows[r], blocks, i, xa, xb); }
  }
#endif

  var sums: array<f32, R>;
  for (var r = 0u; r < R; r++) { sums[r] = (acc[r].x + acc[r].y) + (acc[r].z + acc[r].w); }
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
