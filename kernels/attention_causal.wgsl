// Causal GQA attention over a KV cache (or a sequence's own k/v), online softmax with f32 accumulation.
// Query row i (absolute position past + i) sees keys 0..past+i.
//
// Three variants of one file:
// - default (prefill, T >= 1): a workgroup owns ROWS query rows and one kv head; lane = row * GROUP + head in
//   group. Keys 0..past+r0 are visible to every row of the tile and are walked by all lanes together (uniform
//   addresses, no workgroup memory or barriers); the last ROWS-1 keys are the causal triangle, masked per lane.
// - DECODE (T == 1, flash-decoding pass 1): the key axis is cut into splits of KPS keys; lane = split in
//   workgroup * GROUP + head in group, so the whole GPU streams the cache. Each lane writes its partial
//   (max m, denominator l, unnormalised accumulator) to `part`.
// - COMBINE (flash-decoding pass 2): one workgroup per query head, one lane per 4 output columns, merges
//   the splits' partials with the usual rescaling.
// Scores are in log2 units (q pre-scaled by scale*log2 e); m and l are rescaled once per block of 4 keys.

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
override ROWS: u32;   // prefill: query rows per workgroup; DECODE: splits per workgroup

const NEG = -3.0e38;  // finite "minus infinity": exp2(NEG - m) == 0 without inf - inf

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

var<private> qv: array<vec4f, 32>;
var<private> acc: array<vec4f, 32>;
var<private> m: f32;
var<private> l: f32;

fn loadQ(row: u32, h: u32) {
  let qb = row * p.q_stride + p.q_off + h * HD4;
  for (var c = 0u; c < p.hd4; c++) { qv[c] = vec4f(q_buf[qb + c]) * p.scale_log2; }
  for (var c = 0u; c < p.hd4; c++) { acc[c] = vec4f(0.0); }
  m = NEG;
  l = 0.0;
}

fn update4(s: vec4f) -> vec4f {
  let mNew = max(m, max(max(s.x, s.y), max(s.z, s.w)));
  let corr = exp2(m - mNew);
  let w = exp2(s - vec4f(mNew));
  l = l * corr + (w.x + w.y + w.z + w.w);
  m = mNew;
  for (var c = 0u; c < p.hd4; c++) { acc[c] *= corr; }
  return w;
}

// One key j of kv head g.
fn attend1(j: u32, g: u32) {
  let k0 = j * p.k_stride + p.k_off + g * HD4;
  var s = 0.0;
  for (var c = 0u; c < p.hd4; c++) { s += dot(qv[c], vec4f(k_buf[k0 + c])); }
  let mNew = max(m, s);
  let corr = exp2(m - mNew);
  let w = exp2(s - mNew);
  l = l * corr + w;
  m = mNew;
  let v0 = j * p.v_stride + p.v_off + g * HD4;
  for (var c = 0u; c < p.hd4; c++) { acc[c] = acc[c] * corr + w * vec4f(v_buf[v0 + c]); }
}

// Keys ka..kb of kv head g.
fn attendRange(ka: u32, kb: u32, g: u32) {
  let kh = p.k_off + g * HD4;
  let vh = p.v_off + g * HD4;
  var j = ka;
  for (; j + 4u <= kb; j += 4u) {
    let k0 = j * p.k_stride + kh;
    var s = vec4f(0.0);
    for (var c = 0u; c < p.hd4; c++) {
      let qc = qv[c];
      s += vec4f(dot(qc, vec4f(k_buf[k0 + c])), dot(qc, vec4f(k_buf[k0 + p.k_stride + c])),
                 dot(qc, vec4f(k_buf[k0 + 2u * p.k_stride + c])), dot(qc, vec4f(k_buf[k0 + 3u * p.k_stride + c])));
    }
    let w = update4(s);
    let v0 = j * p.v_stride + vh;
    for (var c = 0u; c < p.hd4; c++) {
      acc[c] += w.x * vec4f(v_buf[v0 + c]) + w.y * vec4f(v_buf[v0 + p.v_stride + c])
              + w.z * vec4f(v_buf[v0 + 2u * p.v_stride + c]) + w.w * vec4f(v_buf[v0 + 3u * p.v_stride + c]);
    }
  }
  for (; j < kb; j++) { attend1(j, g); }
}
#endif

#if DECODE
@compute @workgroup_size(ROWS * GROUP)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let split = wid.x * ROWS + lid / GROUP;
  if (split >= p.nsplit) { return; }
  let g = wid.y;
  let h = g * GROUP + lid % GROUP;
  loadQ(0u, h);
  let ka = split * p.kps;
  attendRange(ka, min(ka + p.kps, p.past + 1u), g);
  let pb = (h * p.nsplit + split) * (HD4 + 1u);
  part[pb] = vec4f(m, l, 0.0, 0.0);
  for (var c = 0u; c < p.hd4; c++) { part[pb + 1u + c] = acc[c]; }
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
@compute @workgroup_size(ROWS * GROUP)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let r0 = (wid.x + wid.y * nwg.x) * ROWS;
  if (r0 >= p.t) { return; }
  let g = wid.z;
  let heads = nwg.z * GROUP;
  let row = r0 + lid / GROUP;
  let h = g * GROUP + lid % GROUP;
  let live = row < p.t;
  if (live) { loadQ(row, h); }
  // Keys every row of the tile sees, walked together.
  attendRange(0u, p.past + r0 + 1u, g);
  // The causal triangle of the tile: key past+r0+d is visible to rows r0+d.. only.
  let rEnd = min(r0 + ROWS, p.t);
  for (var j = p.past + r0 + 1u; j < p.past + rEnd; j++) {
    if (live && j <= p.past + row) { attend1(j, g); }
  }
  if (!live) { return; }
  let ob = (row * heads + h) * HD4;
  let inv = 1.0 / l;  // l >= 1: the row's maximum key contributes exp2(0)
  for (var c = 0u; c < p.hd4; c++) { out[ob + c] = act4(acc[c] * inv); }
}
#endif
