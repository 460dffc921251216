// Non-causal segmented attention (ViT window / per-image full / QA joint attention), online softmax.
// Segment s: query rows cu_q[s]..cu_q[s+1] attend key rows cu_kv[s]..cu_kv[s+1] of k/v and, with EXTRA,
// rows cu_e[s]..cu_e[s+1] of ek/ev, in one joint softmax.
//
// Layout: a workgroup owns LR * NR consecutive query rows and one kv head (wid.z). Each lane owns NR
// consecutive rows of one query head (lane = row lane * GROUP + head in group), i.e. NR query vectors that
// share every key and value load (NR = 1 on GPUs; NR = 4 on CPU adapters, where every storage load with a
// non-constant offset is a per-lane scalar load and so costs more than the FMAs it feeds: bench/NOTES.md).
// Every lane of a workgroup walks the same key rows (uniform control flow, no workgroup memory, no barriers).
// A tile may straddle segments: the workgroup walks each overlapping segment and a row outside it is masked
// (weight 0). Keys are taken in blocks of 4 (a short last block is masked), scores are in log2 units (q
// pre-scaled by scale*log2 e), and each row's running max m and denominator l are rescaled once per block.
// Rows whose segment reads keys outside the k/v views, or rows no segment covers, are written as NaN
// (an invalid table must never give a quiet wrong answer).
// Defines: ACT_F16 (act = f16), V_IN_K (v lives in k's buffer: one binding fewer), EXTRA, EV_IN_EK,
// MULTI (NR > 1: private arrays sized for 8 rows).

struct P {
  nq: u32,          // query rows = rows of out
  nseg: u32,        // S (tables hold S+1 entries)
  q_stride: u32,    // all strides/offsets in vec4 units
  q_off: u32,
  k_stride: u32,
  k_off: u32,
  v_stride: u32,
  v_off: u32,
  k_rows: u32,      // rows addressable through the k and v views
  ek_stride: u32,
  ek_off: u32,
  ev_stride: u32,
  ev_off: u32,
  ek_rows: u32,
  scale_log2: f32,  // softmax scale * log2(e)
  hd4: u32,         // = HD4 as a runtime value: loops bounded by it are not fully unrolled, which made
                    // lavapipe's LLVM compile take up to a minute for head_dim 64/128
  tile0: u32,       // first row tile of this dispatch (a long call is split into pieces to stay cancellable)
}

override HD4: u32;    // head_dim / 4 (head_dim <= 128)
override GROUP: u32;  // query heads per kv head
override NR: u32;     // query rows per lane (<= MAXV)
override LR: u32;     // row lanes per workgroup (lanes = LR * GROUP)

@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> q_buf: array<act4>;
@group(0) @binding(2) var<storage, read> k_buf: array<act4>;
@group(0) @binding(3) var<storage, read> cu_q: array<u32>;
@group(0) @binding(4) var<storage, read> cu_kv: array<u32>;
@group(0) @binding(5) var<storage, read_write> out: array<act4>;
#if !V_IN_K
@group(0) @binding(6) var<storage, read> v_buf: array<act4>;
#endif
#if EXTRA
#if V_IN_K
@group(0) @binding(6) var<storage, read> ek_buf: array<act4>;
@group(0) @binding(7) var<storage, read> cu_e: array<u32>;
#if !EV_IN_EK
@group(0) @binding(8) var<storage, read> ev_buf: array<act4>;
#endif
#else
@group(0) @binding(7) var<storage, read> ek_buf: array<act4>;
@group(0) @binding(8) var<storage, read> cu_e: array<u32>;
#endif
#endif

#include "_online_softmax.wgsl" // NEG, softmaxStep()

override NV: u32 = NR;  // query vectors per lane: one per row
var<private> inSeg: array<bool, MAXV>;       // row i belongs to the segment being walked
#include "_attend.wgsl" // MAXV, qv, acc, m, l, loadQ(), attendKeys()

fn keyAt(ext: bool, i: u32) -> vec4f {
#if EXTRA
  if (ext) { return vec4f(ek_buf[i]); }
#endif
  return vec4f(k_buf[i]);
}

fn valueAt(ext: bool, i: u32) -> vec4f {
#if EXTRA
  if (ext) {
#if EV_IN_EK
    return vec4f(ek_buf[i]);
#else
    return vec4f(ev_buf[i]);
#endif
  }
#endif
#if V_IN_K
  return vec4f(k_buf[i]);
#else
  return vec4f(v_buf[i]);
#endif
}

// Rows outside the segment being walked see no key.
fn visible(v: u32, js: vec4u, kb: u32) -> vec4<bool> { return (js < vec4u(kb)) & vec4<bool>(inSeg[v]); }

// Keys ka..kb of k/v (ext: of ek/ev) for kv head g, added to every row with inSeg set. `ext` is a constant at
// each call site.
fn attend(ka: u32, kb: u32, g: u32, ext: bool) {
  attendKeys(ka, kb, select(p.k_off, p.ek_off, ext) + g * HD4, select(p.v_off, p.ev_off, ext) + g * HD4,
             select(p.k_stride, p.ek_stride, ext), select(p.v_stride, p.ev_stride, ext), ext);
}

@compute @workgroup_size(LR * GROUP)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let r0 = (p.tile0 + wid.x + wid.y * nwg.x) * (LR * NR);
  if (r0 >= p.nq) { return; }
  let g = wid.z;
  let heads = nwg.z * GROUP;
  let row0 = r0 + (lid / GROUP) * NR;  // this lane's rows: row0 .. row0 + NR - 1
  let h = g * GROUP + lid % GROUP;

  for (var i = 0u; i < NR; i++) { loadQ(i, min(row0 + i, p.nq - 1u) * p.q_stride + p.q_off + h * HD4); }

  // Last segment starting at or before r0 (uniform across the workgroup).
  var lo = 0u;
  var hi = p.nseg;
  while (hi - lo > 1u) {
    let mid = (lo + hi) / 2u;
    if (cu_q[mid] <= r0) { lo = mid; } else { hi = mid; }
  }
  let rEnd = min(r0 + LR * NR, p.nq);
  var covered = array<u32, MAXV>();
  var bad = array<bool, MAXV>();
  for (var s = lo; s < p.nseg && cu_q[s] < rEnd; s++) {
    let qa = cu_q[s];
    let qe = cu_q[s + 1u];
    let ka = cu_kv[s];
    let kb = cu_kv[s + 1u];
    var badSeg = kb < ka || kb > p.k_rows;
#if EXTRA
    let ea = cu_e[s];
    let eb = cu_e[s + 1u];
    badSeg = badSeg || eb < ea || eb > p.ek_rows;
#endif
    for (var i = 0u; i < NR; i++) {
      let r = row0 + i;
      inSeg[i] = r < p.nq && r >= qa && r < qe;
      covered[i] += select(0u, 1u, inSeg[i]);
      bad[i] = bad[i] || (inSeg[i] && badSeg);
    }
    // Walked by every lane (uniform control flow); rows outside the segment are masked by inSeg.
    if (badSeg || qa >= qe || qe <= r0) { continue; }
    attend(ka, kb, g, false);
#if EXTRA
    attend(ea, eb, g, true);
#endif
  }
  for (var i = 0u; i < NR; i++) {
    let r = row0 + i;
    if (r >= p.nq) { break; }
    let ob = (r * heads + h) * HD4;
    if (covered[i] != 1u || bad[i]) {
      let nan = vec4f(bitcast<f32>(0x7fc00000u + min(p.nq, 0u)));  // not a constant: WGSL rejects NaN constants
      for (var c = 0u; c < p.hd4; c++) { out[ob + c] = act4(nan); }
      continue;
    }
    // A segment without keys gives zeros (l == 0), as flash attention does.
    let inv = select(0.0, 1.0 / l[i], l[i] > 0.0);
    for (var c = 0u; c < p.hd4; c++) { out[ob + c] = act4(acc[i * HD4 + c] * inv); }
  }
}
