// Non-causal segmented attention (ViT window / per-image full / QA joint attention), online softmax.
// Segment s: query rows cu_q[s]..cu_q[s+1] attend key rows cu_kv[s]..cu_kv[s+1] of k/v and, with EXTRA,
// rows cu_e[s]..cu_e[s+1] of ek/ev, in one joint softmax.
//
// Layout: a workgroup owns ROWS consecutive query rows and one kv head (wid.z); lane = row * GROUP + head in
// group, so every lane of a workgroup walks the same key rows (uniform addresses: broadcast loads, no
// workgroup memory, no barriers; register-blocked, which is what lavapipe and real GPUs both like). A tile may
// straddle segments: the workgroup walks each overlapping segment and only its rows' lanes take part.
// Each lane keeps q (pre-scaled by scale*log2 e) and the f32 accumulator in registers; scores are in log2
// units, the running max m and denominator l are rescaled once per block of 4 keys.
// Rows whose segment reads keys outside the k/v views, or rows no segment covers, are written as NaN
// (an invalid table must never give a quiet wrong answer).
// Defines: ACT_F16 (act = f16), V_IN_K (v lives in k's buffer: one binding fewer), EXTRA, EV_IN_EK.

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
}

override HD4: u32;    // head_dim / 4 (head_dim <= 128)
override GROUP: u32;  // query heads per kv head
override ROWS: u32;   // query rows per workgroup

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

const NEG = -3.0e38;  // finite "minus infinity": exp2(NEG - m) == 0 without inf - inf

var<private> qv: array<vec4f, 32>;
var<private> acc: array<vec4f, 32>;
var<private> m: f32;
var<private> l: f32;

fn vAt(i: u32) -> vec4f {
#if V_IN_K
  return vec4f(k_buf[i]);
#else
  return vec4f(v_buf[i]);
#endif
}

#if EXTRA
fn evAt(i: u32) -> vec4f {
#if EV_IN_EK
  return vec4f(ek_buf[i]);
#else
  return vec4f(ev_buf[i]);
#endif
}
#endif

// Online-softmax step for 4 scores (log2 units); returns their weights after rescaling acc and l.
fn update4(s: vec4f) -> vec4f {
  let mNew = max(m, max(max(s.x, s.y), max(s.z, s.w)));
  let corr = exp2(m - mNew);
  let w = exp2(s - vec4f(mNew));
  l = l * corr + (w.x + w.y + w.z + w.w);
  m = mNew;
  for (var c = 0u; c < p.hd4; c++) { acc[c] *= corr; }
  return w;
}

fn update1(s: f32) -> f32 {
  let mNew = max(m, s);
  let corr = exp2(m - mNew);
  let w = exp2(s - mNew);
  l = l * corr + w;
  m = mNew;
  for (var c = 0u; c < p.hd4; c++) { acc[c] *= corr; }
  return w;
}

// Keys ka..kb of k/v for kv head g.
fn attendImage(ka: u32, kb: u32, g: u32) {
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
      acc[c] += w.x * vAt(v0 + c) + w.y * vAt(v0 + p.v_stride + c) + w.z * vAt(v0 + 2u * p.v_stride + c)
              + w.w * vAt(v0 + 3u * p.v_stride + c);
    }
  }
  for (; j < kb; j++) {
    let k0 = j * p.k_stride + kh;
    var s = 0.0;
    for (var c = 0u; c < p.hd4; c++) { s += dot(qv[c], vec4f(k_buf[k0 + c])); }
    let w = update1(s);
    let v0 = j * p.v_stride + vh;
    for (var c = 0u; c < p.hd4; c++) { acc[c] += w * vAt(v0 + c); }
  }
}

#if EXTRA
// Keys ea..eb of ek/ev for kv head g (same arithmetic as attendImage, other buffers).
fn attendExtra(ea: u32, eb: u32, g: u32) {
  let kh = p.ek_off + g * HD4;
  let vh = p.ev_off + g * HD4;
  var j = ea;
  for (; j + 4u <= eb; j += 4u) {
    let k0 = j * p.ek_stride + kh;
    var s = vec4f(0.0);
    for (var c = 0u; c < p.hd4; c++) {
      let qc = qv[c];
      s += vec4f(dot(qc, vec4f(ek_buf[k0 + c])), dot(qc, vec4f(ek_buf[k0 + p.ek_stride + c])),
                 dot(qc, vec4f(ek_buf[k0 + 2u * p.ek_stride + c])), dot(qc, vec4f(ek_buf[k0 + 3u * p.ek_stride + c])));
    }
    let w = update4(s);
    let v0 = j * p.ev_stride + vh;
    for (var c = 0u; c < p.hd4; c++) {
      acc[c] += w.x * evAt(v0 + c) + w.y * evAt(v0 + p.ev_stride + c) + w.z * evAt(v0 + 2u * p.ev_stride + c)
              + w.w * evAt(v0 + 3u * p.ev_stride + c);
    }
  }
  for (; j < eb; j++) {
    let k0 = j * p.ek_stride + kh;
    var s = 0.0;
    for (var c = 0u; c < p.hd4; c++) { s += dot(qv[c], vec4f(ek_buf[k0 + c])); }
    let w = update1(s);
    let v0 = j * p.ev_stride + vh;
    for (var c = 0u; c < p.hd4; c++) { acc[c] += w * evAt(v0 + c); }
  }
}
#endif

@compute @workgroup_size(ROWS * GROUP)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let r0 = (wid.x + wid.y * nwg.x) * ROWS;
  if (r0 >= p.nq) { return; }
  let g = wid.z;
  let heads = nwg.z * GROUP;
  let row = r0 + lid / GROUP;
  let h = g * GROUP + lid % GROUP;
  let live = row < p.nq;

  if (live) {
    let qb = row * p.q_stride + p.q_off + h * HD4;
    for (var c = 0u; c < p.hd4; c++) { qv[c] = vec4f(q_buf[qb + c]) * p.scale_log2; }
  }
  for (var c = 0u; c < p.hd4; c++) { acc[c] = vec4f(0.0); }
  m = NEG;
  l = 0.0;

  // Last segment starting at or before r0 (uniform across the workgroup).
  var lo = 0u;
  var hi = p.nseg;
  while (hi - lo > 1u) {
    let mid = (lo + hi) / 2u;
    if (cu_q[mid] <= r0) { lo = mid; } else { hi = mid; }
  }
  let rEnd = min(r0 + ROWS, p.nq);
  var covered = 0u;
  var bad = false;
  for (var s = lo; s < p.nseg && cu_q[s] < rEnd; s++) {
    let qa = cu_q[s];
    let qe = cu_q[s + 1u];
    if (!live || row < qa || row >= qe) { continue; }
    covered++;
    let ka = cu_kv[s];
    let kb = cu_kv[s + 1u];
    bad = bad || kb < ka || kb > p.k_rows;
#if EXTRA
    let ea = cu_e[s];
    let eb = cu_e[s + 1u];
    bad = bad || eb < ea || eb > p.ek_rows;
#endif
    if (bad) { continue; }
    attendImage(ka, kb, g);
#if EXTRA
    attendExtra(ea, eb, g);
#endif
  }
  if (!live) { return; }
  let ob = (row * heads + h) * HD4;
  if (covered != 1u || bad) {
    let nan = vec4f(bitcast<f32>(0x7fc00000u + min(p.nq, 0u)));  // not a constant: WGSL rejects NaN constants
    for (var c = 0u; c < p.hd4; c++) { out[ob + c] = act4(nan); }
    return;
  }
  // A segment without keys gives zeros (l == 0), as flash attention does.
  let inv = select(0.0, 1.0 / l, l > 0.0);
  for (var c = 0u; c < p.hd4; c++) { out[ob + c] = act4(acc[c] * inv); }
}
