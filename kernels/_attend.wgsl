// The key walk shared by attention_causal.wgsl and attention_segmented.wgsl: each lane holds NV query vectors
// (q pre-scaled, f32 accumulators, running max m and denominator l) and walks keys in blocks of 4 with the online
// softmax of _online_softmax.wgsl (which the includer includes first: it also needs NEG).
// The includer declares the override constants HD4 (head_dim / 4, <= 32) and NV (query vectors per lane, <= MAXV),
// the uniform p with p.hd4 (= HD4 as a runtime value: lavapipe's compile stays fast), the MULTI define, and
//   fn keyAt(ext: bool, i: u32) -> vec4f      item i of the key view (ext: the second view, where there is one)
//   fn valueAt(ext: bool, i: u32) -> vec4f    item i of the value view
//   fn visible(v: u32, js: vec4u, kb: u32) -> vec4<bool>   which of the keys js vector v sees (never js >= kb)

#if MULTI
const MAXV = 8u;      // query vectors per lane
#else
const MAXV = 1u;
#endif
var<private> qv: array<vec4f, MAXV * 32u>;   // vector v's q at [v * HD4 ..]
var<private> acc: array<vec4f, MAXV * 32u>;
var<private> m: array<f32, MAXV>;
var<private> l: array<f32, MAXV>;

// q of vector v (its first item at qb in q_buf), pre-scaled by p.scale_log2; accumulator and softmax state cleared.
fn loadQ(v: u32, qb: u32) {
  for (var c = 0u; c < p.hd4; c++) {
    qv[v * HD4 + c] = vec4f(q_buf[qb + c]) * p.scale_log2;
    acc[v * HD4 + c] = vec4f(0.0);
  }
  m[v] = NEG;
  l[v] = 0.0;
}

// The first items of key rows j..j+3 in a view (rows `stride` items apart, the head at item `head`); rows past
// `last` read row `last` (in bounds: their keys are masked).
fn keyBlockRows(j: u32, last: u32, stride: u32, head: u32) -> vec4u {
  return min(vec4u(j, j + 1u, j + 2u, j + 3u), vec4u(last)) * stride + head;
}

// Keys ka..kb for every vector: key row j's head starts at item j * ks + kh of the key view, its value at
// j * vs + vh of the value view. Functions are inlined, so a constant `ext` costs nothing.
fn attendKeys(ka: u32, kb: u32, kh: u32, vh: u32, ks: u32, vs: u32, ext: bool) {
  let last = kb - 1u;
  for (var j = ka; j < kb; j += 4u) {
    // Keys j..j+3; those at or past kb are masked.
    let js = vec4u(j, j + 1u, j + 2u, j + 3u);
    let kr = keyBlockRows(j, last, ks, kh);
    var s = array<vec4f, MAXV>();
    for (var c = 0u; c < p.hd4; c++) {
      let a = keyAt(ext, kr.x + c);
      let b = keyAt(ext, kr.y + c);
      let d = keyAt(ext, kr.z + c);
      let e = keyAt(ext, kr.w + c);
      for (var v = 0u; v < NV; v++) {
        let qc = qv[v * HD4 + c];
        s[v] += vec4f(dot(qc, a), dot(qc, b), dot(qc, d), dot(qc, e));
      }
    }
    var corr = array<f32, MAXV>();
    var w = array<vec4f, MAXV>();
    for (var v = 0u; v < NV; v++) {
      let st = softmaxStep(m[v], l[v], s[v], visible(v, js, kb));
      m[v] = st.m;
      l[v] = st.l;
      corr[v] = st.corr;
      w[v] = st.w;
    }
    let vr = keyBlockRows(j, last, vs, vh);
    for (var c = 0u; c < p.hd4; c++) {
      let a = valueAt(ext, vr.x + c);
      let b = valueAt(ext, vr.y + c);
      let d = valueAt(ext, vr.z + c);
      let e = valueAt(ext, vr.w + c);
      for (var v = 0u; v < NV; v++) {
        let wv = w[v];
        acc[v * HD4 + c] = acc[v * HD4 + c] * corr[v] + wv.x * a + wv.y * b + wv.z * d + wv.w * e;
      }
    }
  }
}
