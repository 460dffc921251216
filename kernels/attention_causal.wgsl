// Causal GQA attention over a KV cache (or a sequence's own k/v), online softmax with f32 accumulation.
// Query row i (absolute position past + i) sees keys 0..past+i.
//
// A lane owns NR query rows x NH query heads of one kv head (NV = NR * NH query vectors) that share every key
// and value load. GPUs get NR = NH = 1 (one vector per lane: loads are cheap there, registers are not); CPU
// adapters get up to 8 vectors (there every storage load with a non-constant offset is a per-lane scalar load
// and costs more than the FMAs it feeds: bench/NOTES.md, attention section). Lane = row lane * (GROUP / NH) +
// head chunk.
// Three variants of one file:
// - default (prefill, T >= 1): a workgroup owns LR * NR query rows and one kv head (wid.z). All lanes walk keys
//   0..past+rEnd together (uniform addresses and control flow, no workgroup memory or barriers); the causal
//   triangle of the tile is masked per row.
// - DECODE (T == 1, flash-decoding pass 1): the key axis is cut into splits of KPS keys; row lane = split, so
//   the whole device streams the cache, once per kv head when NH = GROUP. Each vector's partial (max m,
//   denominator l, unnormalised accumulator) goes to `part`.
// - COMBINE (flash-decoding pass 2): one workgroup per query head, one lane per 4 output columns, merges
//   the splits' partials with the usual rescaling.
// Keys are taken in blocks of 4 (masked where invisible), scores are in log2 units (q pre-scaled by
// scale*log2 e), and each vector's m and l are rescaled once per block.
// Defines: ACT_F16, DECODE, COMBINE, MULTI (NV > 1: private arrays sized for 8 vectors).

struct P {
  t: u32,           // query rows
  past: u32,        // keys before the first query row
  q_stride: u32,    // strides/offsets in vec4 units
  q_off: u32,
  k_stride: u32,
  k_off: u32,
  v_stride: u32,
  v_off: u32,
  kps: u32,         // DECODE/COMBINE: keys per split
  nsplit: u32,      // DECODE/COMBINE: splits per head
  scale_log2: f32,
  hd4: u32,         // = HD4 as a runtime value (see attention_segmented.wgsl: keeps lavapipe's compile fast)
}

override HD4: u32;    // head_dim / 4 (head_dim <= 128)
override GROUP: u32;  // query heads per kv head
override NR: u32;     // query rows per lane (DECODE: 1)
override NH: u32;     // query heads per lane (divides GROUP; NR * NH <= MAXV)
override LR: u32;     // row lanes per workgroup (DECODE: splits per workgroup)

#include "_online_softmax.wgsl" // NEG, softmaxStep()

@group(0) @binding(0) var<uniform> p: P;
#if COMBINE
@group(0) @binding(1) var<storage, read> part: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> out: array<act4>;
#else
@group(0) @binding(1) var<storage, read> q_buf: array<act4>;
@group(0) @binding(2) var<storage, read> k_buf: array<act4>;
@group(0) @binding(3) var<storage, read> v_buf: array<act4>;
#if DECODE
@group(0) @binding(4) var<storage, read_write> part: array<vec4f>;
#else
@group(0) @binding(4) var<storage, read_write> out: array<act4>;
#endif

#if MULTI
const MAXV = 8u;      // query vectors per lane
#else
const MAXV = 1u;
#endif
override NV: u32 = NR * NH;
var<private> qv: array<vec4f, MAXV * 32u>;   // vector v's q at [v * HD4 ..]
var<private> acc: array<vec4f, MAXV * 32u>;
var<private> m: array<f32, MAXV>;
var<private> l: array<f32, MAXV>;
var<private> lim: array<u32, MAXV>;          // row i sees keys < lim[i]

// q of vector v = (row, head h), pre-scaled; accumulator cleared.
fn loadQ(v: u32, row: u32, h: u32) {
  let qb = row * p.q_stride + p.q_off + h * HD4;
  for (var c = 0u; c < p.hd4; c++) {
    qv[v * HD4 + c] = vec4f(q_buf[qb + c]) * p.scale_log2;
    acc[v * HD4 + c] = vec4f(0.0);
  }
  m[v] = NEG;
  l[v] = 0.0;
}

// Keys ka..kb of kv head g for every vector; row i's keys at or past lim[i] are masked.
fn attend(ka: u32, kb: u32, g: u32) {
  let kh = p.k_off + g * HD4;
  let vh = p.v_off + g * HD4;
  let ks = p.k_stride;
  let vs = p.v_stride;
  let last = kb - 1u;
  for (var j = ka; j < kb; j += 4u) {
    // Keys j..j+3; those at or past kb read row kb-1 (in bounds) and are masked.
    let js = vec4u(j, j + 1u, j + 2u, j + 3u);
    let k0 = j * ks + kh;
    let k1 = min(j + 1u, last) * ks + kh;
    let k2 = min(j + 2u, last) * ks + kh;
    let k3 = min(j + 3u, last) * ks + kh;
    var s = array<vec4f, MAXV>();
    for (var c = 0u; c < p.hd4; c++) {
      let a = vec4f(k_buf[k0 + c]);
      let b = vec4f(k_buf[k1 + c]);
      let d = vec4f(k_buf[k2 + c]);
      let e = vec4f(k_buf[k3 + c]);
      for (var v = 0u; v < NV; v++) {
        let qc = qv[v * HD4 + c];
        s[v] += vec4f(dot(qc, a), dot(qc, b), dot(qc, d), dot(qc, e));
      }
    }
    var corr = array<f32, MAXV>();
    var w = array<vec4f, MAXV>();
    for (var v = 0u; v < NV; v++) {
      let st = softmaxStep(m[v], l[v], s[v], js < vec4u(min(kb, lim[v / NH])));
      m[v] = st.m;
      l[v] = st.l;
      corr[v] = st.corr;
      w[v] = st.w;
    }
    let v0 = j * vs + vh;
    let v1 = min(j + 1u, last) * vs + vh;
    let v2 = min(j + 2u, last) * vs + vh;
    let v3 = min(j + 3u, last) * vs + vh;
    for (var c = 0u; c < p.hd4; c++) {
      let a = vec4f(v_buf[v0 + c]);
      let b = vec4f(v_buf[v1 + c]);
      let d = vec4f(v_buf[v2 + c]);
      let e = vec4f(v_buf[v3 + c]);
      for (var v = 0u; v < NV; v++) {
        let wv = w[v];
        acc[v * HD4 + c] = acc[v * HD4 + c] * corr[v] + wv.x * a + wv.y * b + wv.z * d + wv.w * e;
      }
    }
  }
}
#endif

#if DECODE
@compute @workgroup_size(LR * (GROUP / NH))
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let split = wid.x * LR + lid / (GROUP / NH);
  if (split >= p.nsplit) { return; }
  let g = wid.y;
  let h0 = g * GROUP + (lid % (GROUP / NH)) * NH;
  for (var v = 0u; v < NV; v++) { loadQ(v, 0u, h0 + v); }
  lim[0] = p.past + 1u;
  let ka = split * p.kps;
  attend(ka, min(ka + p.kps, p.past + 1u), g);
  for (var v = 0u; v < NV; v++) {
    let pb = ((h0 + v) * p.nsplit + split) * (HD4 + 1u);
    part[pb] = vec4f(m[v], l[v], 0.0, 0.0);
    for (var c = 0u; c < p.hd4; c++) { part[pb + 1u + c] = acc[v * HD4 + c]; }
  }
}
#elif COMBINE
@compute @workgroup_size(HD4)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) c: u32) {
  let h = wid.x;
  let base = h * p.nsplit * (HD4 + 1u);
  var mx = NEG;
  for (var s = 0u; s < p.nsplit; s++) { mx = max(mx, part[base + s * (HD4 + 1u)].x); }
  var den = 0.0;
  var num = vec4f(0.0);
  for (var s = 0u; s < p.nsplit; s++) {
    let pb = base + s * (HD4 + 1u);
    let w = exp2(part[pb].x - mx);
    den += part[pb].y * w;
    num += part[pb + 1u + c] * w;
  }
  out[h * HD4 + c] = act4(num / den);
}
#else
@compute @workgroup_size(LR * (GROUP / NH))
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let r0 = (wid.x + wid.y * nwg.x) * (LR * NR);
  if (r0 >= p.t) { return; }
  let g = wid.z;
  let heads = nwg.z * GROUP;
  let row0 = r0 + (lid / (GROUP / NH)) * NR;  // this lane's rows: row0 .. row0 + NR - 1
  let h0 = g * GROUP + (lid % (GROUP / NH)) * NH;
  for (var i = 0u; i < NR; i++) {
    let row = min(row0 + i, p.t - 1u);  // rows past t compute a copy of the last row and are not written
    lim[i] = p.past + row + 1u;
    for (var hh = 0u; hh < NH; hh++) { loadQ(i * NH + hh, row, h0 + hh); }
  }
  // Keys 0..past+rEnd-1: every row of the tile sees the first past+r0+1, the rest is the causal triangle.
  let rEnd = min(r0 + LR * NR, p.t);
  attend(0u, p.past + rEnd, g);
  for (var i = 0u; i < NR; i++) {
    let row = row0 + i;
    if (row >= p.t) { break; }
    for (var hh = 0u; hh < NH; hh++) {
      let v = i * NH + hh;
      let ob = (row * heads + h0 + hh) * HD4;
      let inv = 1.0 / l[v];  // l >= 1: the row's maximum key contributes exp2(0)
      for (var c = 0u; c < p.hd4; c++) { out[ob + c] = act4(acc[v * HD4 + c] * inv); }
    }
  }
}
#endif
