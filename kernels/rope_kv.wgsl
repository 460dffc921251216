// Rotary embedding of a step's fused qkv rows plus the KV-cache write, in one dispatch (the decode step's
// rope(q), rope(k), write(k), write(v) as one kernel; prefill chunks use it too). For row r of qkv
// ([rows, stride], q at column offset q_off, then k at k_off, v at v_off; all in vec4 items):
//   q heads: rotated in place (attention reads them from qkv);
//   k heads: rotated and stored in kc at row at + r (rotated keys are what the cache holds);
//   v heads: copied to vc at row at + r.
// Rotation as kernels/rope.wgsl (ropePair, _rope.wgsl), f32 math, with table[r] = [cos θ_0..θ_{half-1},
// sin θ_0..θ_{half-1}]. With VEC4 an item is 4 consecutive d (half % 4 == 0), else one element; every count and
// offset below is in items.
// A unit is (row, slot), slot = q head | k head | v head; each unit's half/4 items are split over `split`
// invocations: 1 on CPU adapters (one invocation streams a whole head), half/4 on GPUs (coalesced).

struct P { n: u32, heads: u32, kv_heads: u32, half4: u32, split: u32, stride4: u32, q_off4: u32, k_off4: u32, v_off4: u32, at: u32 }
@group(0) @binding(0) var<uniform> p: P;
#include "_items.wgsl" // V, F
#include "_rope.wgsl" // ropePair()
@group(0) @binding(1) var<storage, read_write> qkv: array<V>;
@group(0) @binding(2) var<storage, read> table: array<F>;
@group(0) @binding(3) var<storage, read_write> kc: array<V>;
@group(0) @binding(4) var<storage, read_write> vc: array<V>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.n) { return; }
  let unit = i / p.split;
  let per = p.half4 / p.split;
  let d0 = (i % p.split) * per;
  let slots = p.heads + 2u * p.kv_heads;
  let r = unit / slots;
  let s = unit % slots;
  let hd4 = 2u * p.half4;
  let src = r * p.stride4;
  let trow = r * hd4;
  let kv_w4 = p.kv_heads * hd4;
  if (s < p.heads + p.kv_heads) {
    // A q head is rotated in place, a k head into the cache.
    let isQ = s < p.heads;
    let h = select(s - p.heads, s, isQ);
    let a = src + select(p.k_off4, p.q_off4, isQ) + h * hd4;
    let dst = (p.at + r) * kv_w4 + h * hd4;
    for (var d = d0; d < d0 + per; d++) {
      let y = ropePair(F(qkv[a + d]), F(qkv[a + p.half4 + d]), table[trow + d], table[trow + p.half4 + d]);
      if (isQ) {
        qkv[a + d] = V(y[0]);
        qkv[a + p.half4 + d] = V(y[1]);
      } else {
        kc[dst + d] = V(y[0]);
        kc[dst + p.half4 + d] = V(y[1]);
      }
    }
  } else {
    let h = s - p.heads - p.kv_heads;
    let a = src + p.v_off4 + h * hd4;
    let dst = (p.at + r) * kv_w4 + h * hd4;
    for (var d = d0; d < d0 + per; d++) {
      vc[dst + d] = qkv[a + d];
      vc[dst + p.half4 + d] = qkv[a + p.half4 + d];
    }
  }
}
