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

override NV: u32 = NR * NH;
var<private> lim: array<u32, MAXV>;          // row i sees keys < lim[i]
#include "_attend.wgsl" // MAXV, qv, acc, m, l, loadQ(), attendKeys()

fn keyAt(ext: bool, i: u32) -> vec4f { return vec4f(k_buf[i]); }
fn valueAt(ext: bool, i: u32) -> vec4f { return vec4f(v_buf[i]); }
// Vector v = (row lane row v / NH, head): its row's causal limit.
fn visible(v: u32, js: vec4u, kb: u32) -> vec4<bool> { return js < vec4u(min(kb, lim[v / NH])); }

// Keys ka..kb of kv head g for every vector; row i's keys at or past lim[i] are masked.
fn attend(ka: u32, kb: u32, g: u32) {
  attendKeys(ka, kb, p.k_off + g * HD4, p.v_off + g * HD4, p.k_stride, p.v_stride, false);
}
#endif

#if DECODE
@compute @workgroup_size(LR * (GROUP / NH))
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let split = wid.x * LR + lid / (GROUP / NH);
  if (split >= p.nsplit) { return; }
  let g = wid.y;
  let h0 = g * GROUP + (lid % (GROUP / NH)) * NH;
  for (var v = 0u; v < NV; v++) { loadQ(v, p.q_off + (h0 + v) * HD4); }
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
    for (var hh = 0u; hh < NH; hh++) { loadQ(i * NH + hh, row * p.q_stride + p.q_off + (h0 + hh) * HD4); }
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
