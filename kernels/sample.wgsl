// Next-token selection from one logits row, in a single workgroup; writes one u32 token id.
//
// Greedy (p.greedy = 1): argmax, ties -> lowest index, NaN logits ignored (all NaN -> 0).
// Top-p: q_i = exp((l_i - max) / T) (unnormalised softmax, f32); Z = Σ q_i. The nucleus is every token with
//   q_i >= τ, where τ is the largest value with Σ_{q_j >= τ} q_j >= topP · Z: the most probable tokens whose mass
//   first reaches topP, plus every token tied with the last one. τ is found exactly, without sorting, by a K-way
//   search over the f32 bit patterns of q (positive floats order like their bits), PASSES passes over the row.
//   Then r = rand · (nucleus mass) and the token is the first index i (in index order) whose running nucleus
//   mass exceeds r (inverse CDF). A row whose max is not finite (all NaN or -inf, or a +inf) falls back to argmax.
// Every thread owns one contiguous chunk of the row, so all sums use the same order and the same grouping:
// the masses compared during the search are exactly consistent with each other and with Z.
// Non-finite guard: when any logit is NaN or +-inf, bit 31 of the written word is set (token ids are < 2^31), so
// the caller learns of a numerical failure from the one word it reads back anyway (no extra readback per token).

struct P { n: u32, greedy: u32, inv_temp: f32, top_p: f32, rand: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> logits: array<act>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

const WG = 256u;
const K = 8u;          // thresholds per search pass
const PASSES = 10u;    // (K + 1)^PASSES = 9^10 > 2^30 = the range of bit patterns searched, [0, bits(2.0))
const NONE = 0xffffffffu;

var<workgroup> red_v: array<f32, 2048>;  // K * WG partial sums
var<workgroup> red_k: array<u32, WG>;
var<workgroup> red_i: array<u32, WG>;
var<workgroup> best_key: u32;
var<workgroup> best_idx: u32;
var<workgroup> pick_chunk: u32;
var<workgroup> pick_rest: f32;
var<workgroup> nonfinite: atomic<u32>;  // zero-initialised per dispatch

const NONFINITE_FLAG = 0x80000000u;

// Total order on floats as u32 keys (-0 folded onto +0); NaN -> 0, below every other key (-inf is 0x007fffff).
fn order_key(v: f32) -> u32 {
  var b = bitcast<u32>(v);
  if ((b & 0x7fffffffu) > 0x7f800000u) { return 0u; }
  if (b == 0x80000000u) { b = 0u; }
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

fn key_value(k: u32) -> f32 {
  return bitcast<f32>(select(~k, k & 0x7fffffffu, (k & 0x80000000u) != 0u));
}

const KEY_NEG_INF = 0x007fffffu;
const KEY_POS_INF = 0xff800000u;

fn chunk(lid: u32) -> vec2u {
  let c = (p.n + WG - 1u) / WG;
  let b = min(lid * c, p.n);
  return vec2u(b, min(b + c, p.n));
}

// Unnormalised probability; NaN and -inf logits get 0 (by bit tests: WGSL may assume no NaN/inf in arithmetic).
fn q_of(i: u32, m: f32) -> f32 {
  let k = order_key(f32(logits[i]));
  if (k <= KEY_NEG_INF) { return 0.0; }
  return exp((f32(logits[i]) - m) * p.inv_temp);
}

fn reduce_sums(lid: u32, acc: array<f32, K>) -> array<f32, K> {
  workgroupBarrier(); // earlier readers of red_v are done
  for (var k = 0u; k < K; k++) { red_v[k * WG + lid] = acc[k]; }
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      for (var k = 0u; k < K; k++) { red_v[k * WG + lid] += red_v[k * WG + lid + s]; }
    }
    workgroupBarrier();
  }
  var r = array<f32, K>();
  for (var k = 0u; k < K; k++) { r[k] = red_v[k * WG]; }
  return r;
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  let range = chunk(lid);

  // ---- argmax (also the maximum for the softmax) ----
  var bk = 0u;
  var bi = NONE;
  var bad = false;
  for (var i = range.x; i < range.y; i++) {
    let k = order_key(f32(logits[i]));
    bad = bad || k == 0u || k == KEY_NEG_INF || k >= KEY_POS_INF; // NaN, -inf, +inf
    if (k > bk) { bk = k; bi = i; }
  }
  if (bad) { atomicOr(&nonfinite, 1u); }
  red_k[lid] = bk;
  red_i[lid] = bi;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      let k2 = red_k[lid + s];
      let i2 = red_i[lid + s];
      if (k2 > red_k[lid] || (k2 == red_k[lid] && i2 < red_i[lid])) { red_k[lid] = k2; red_i[lid] = i2; }
    }
    workgroupBarrier();
  }
  if (lid == 0u) { best_key = red_k[0]; best_idx = red_i[0]; }
  let key = workgroupUniformLoad(&best_key); // also a barrier: every atomicOr above is done
  let flag = select(0u, NONFINITE_FLAG, atomicLoad(&nonfinite) != 0u);
  if (p.greedy != 0u || key <= KEY_NEG_INF || key >= KEY_POS_INF) {
    if (lid == 0u) { out[0] = select(best_idx, 0u, best_idx == NONE) | flag; }
    return;
  }
  let m = key_value(key);

  // ---- Z, then the K-way search for τ ----
  var acc = array<f32, K>();
  for (var i = range.x; i < range.y; i++) { acc[0] += q_of(i, m); }
  let z = reduce_sums(lid, acc)[0];
  let goal = p.top_p * z;
  var lo = 0u;            // mass(q >= lo) >= goal (all of Z)
  var hi = 0x40000000u;   // mass(q >= 2.0) = 0 < goal
  for (var it = 0u; it < PASSES; it++) {
    let d = hi - lo;
    var t = array<u32, K>();
    for (var k = 0u; k < K; k++) { t[k] = lo + (d / (K + 1u)) * (k + 1u) + ((d % (K + 1u)) * (k + 1u)) / (K + 1u); }
    var a = array<f32, K>(); // explicitly zeroed every pass (lavapipe kept the last pass's sums otherwise)
    for (var i = range.x; i < range.y; i++) {
      let q = q_of(i, m);
      let b = bitcast<u32>(q);
      for (var k = 0u; k < K; k++) { if (b >= t[k]) { a[k] += q; } }
    }
    var mass = reduce_sums(lid, a);
    // Masses fall as thresholds rise (sums of fewer non-negative terms in the same order), so this keeps
    // mass(>= lo) >= goal > mass(>= hi).
    var nlo = lo;
    var nhi = hi;
    for (var k = 0u; k < K; k++) {
      if (mass[k] >= goal) { nlo = max(nlo, t[k]); } else { nhi = min(nhi, t[k]); }
    }
    lo = nlo;
    hi = nhi;
  }

  // ---- inverse CDF over the nucleus {q >= bits lo}, in index order ----
  var s = 0.0;
  for (var i = range.x; i < range.y; i++) {
    let q = q_of(i, m);
    if (bitcast<u32>(q) >= lo) { s += q; }
  }
  workgroupBarrier();
  red_v[lid] = s;
  workgroupBarrier();
  if (lid == 0u) {
    var total = 0.0;
    for (var c = 0u; c < WG; c++) { total += red_v[c]; }
    let r = p.rand * total;
    // First chunk whose end passes r. If rounding leaves r at the very end, the last non-empty chunk is kept with
    // a remainder its scan cannot pass, so its last nucleus token is taken.
    var before = 0.0;
    var sel = 0u;
    var sel_before = 0.0;
    for (var c = 0u; c < WG; c++) {
      let sc = red_v[c];
      if (sc > 0.0) {
        sel = c;
        sel_before = before;
        if (r < before + sc) { break; }
        before += sc;
      }
    }
    pick_chunk = sel;
    pick_rest = r - sel_before;
  }
  workgroupBarrier();
  if (lid == pick_chunk) {
    var run = 0.0;
    var last = range.x;
    for (var i = range.x; i < range.y; i++) {
      let q = q_of(i, m);
      if (q > 0.0 && bitcast<u32>(q) >= lo) {
        run += q;
        last = i;
        if (run > pick_rest) { break; }
      }
    }
    out[0] = last | flag;
  }
}
