// Row movement. An "item" is one element, or with VEC4 four consecutive ones (act4 stores; the row or unit length
// must then be a multiple of 4), or with VEC8 (EMBED from 16-bit tables, rows a multiple of 8) eight. Invocation g moves items g·PER .. g·PER + PER - 1 (a contiguous chunk: CPU
// adapters stream it fastest; PER = 1 is the coalesced layout for GPUs). A "unit" is `unit_items` consecutive
// items (rows-per-unit × D).
//   GATHER:  dst unit i = src unit index[i]; an index past the source writes NaN (loud, never out of bounds).
//   SCATTER: dst unit index[i] = src unit i; an index past the destination is skipped. Indices must be distinct.
//   EMBED:   out[t, :] = table[ids[t], :] for the ids in [row0, row0 + rows), the rows of one part of a table
//            that may be split across bindings (one dispatch per part). The dispatch for the part holding row 0
//            also writes NaN rows for ids >= vocab. Table dtype: f32, or packed f16 (W_F16) / bf16 (W_BF16).
//            `dim` counts items.

#if EMBED
struct P { n: u32, dim: u32, row0: u32, rows: u32, vocab: u32, nan_bits: u32 }
#else
struct P { n: u32, unit_items: u32, src_units: u32, dst_units: u32, nan_bits: u32 }
#endif
@group(0) @binding(0) var<uniform> p: P;
#if VEC4
alias V = act4;
#elif VEC8
alias V = act4;
#else
alias V = act;
#endif
#if EMBED
@group(0) @binding(1) var<storage, read> table: array<TW>; // TW: see table_item
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read_write> dst: array<V>;
#else
@group(0) @binding(1) var<storage, read> src: array<V>;
@group(0) @binding(2) var<storage, read> index: array<u32>;
@group(0) @binding(3) var<storage, read_write> dst: array<V>;
#endif

override WG: u32 = 256;
override PER: u32 = 1;

// NaN comes from the host (p.nan_bits = a NaN bit pattern): WGSL rejects NaN constants.
fn nan_item() -> V {
#if ACT_F16
  return V(bitcast<vec2<f16>>(p.nan_bits).x);
#else
  return V(bitcast<f32>(p.nan_bits));
#endif
}

#if EMBED
// out item i ← table item e (of the part), widened to f32 and narrowed to act. 16-bit tables hold two elements per
// u32, element 2k in the low half; with VEC8 an item is eight elements (one vec4<u32> load, two act4 stores).
#if VEC8
alias TW = vec4<u32>;
fn put_item(i: u32, e: u32) {
  let w = table[e];
#if W_F16
  dst[2u * i] = act4(vec4f(unpack2x16float(w.x), unpack2x16float(w.y)));
  dst[2u * i + 1u] = act4(vec4f(unpack2x16float(w.z), unpack2x16float(w.w)));
#else
  dst[2u * i] = act4(bitcast<vec4f>(vec4u(w.x << 16u, w.x & 0xffff0000u, w.y << 16u, w.y & 0xffff0000u)));
  dst[2u * i + 1u] = act4(bitcast<vec4f>(vec4u(w.z << 16u, w.z & 0xffff0000u, w.w << 16u, w.w & 0xffff0000u)));
#endif
}
fn put_nan(i: u32) {
  dst[2u * i] = nan_item();
  dst[2u * i + 1u] = nan_item();
}
#else
#if VEC4
alias TW = vec4f; // f32 tables only (16-bit tables use VEC8)
fn put_item(i: u32, e: u32) { dst[i] = V(table[e]); }
#elif W_F16
alias TW = u32;
fn put_item(i: u32, e: u32) { dst[i] = V(unpack2x16float(table[e >> 1u])[e & 1u]); }
#elif W_BF16
alias TW = u32;
fn put_item(i: u32, e: u32) {
  let word = table[e >> 1u];
  dst[i] = V(bitcast<f32>(select(word << 16u, word & 0xffff0000u, (e & 1u) == 1u)));
}
#else
alias TW = f32;
fn put_item(i: u32, e: u32) { dst[i] = V(table[e]); }
#endif
fn put_nan(i: u32) { dst[i] = nan_item(); }
#endif
#endif

// Token id (EMBED) or the source/destination unit of unit u.
fn unit_index(u: u32) -> u32 {
#if EMBED
  return ids[u];
#else
  return index[u];
#endif
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let start = ((wid.x + wid.y * nwg.x) * WG + lid) * PER;
  let end = min(start + PER, p.n);
#if EMBED
  let len = p.dim;
#else
  let len = p.unit_items;
#endif
  // (unit or token, item within it) of `start`, then stepped along the chunk without divisions; the index is
  // loaded once per unit, not per item (every storage load is a per-lane scalar load on CPU adapters).
  var u = start / len;
  var e = start - u * len;
  var at = 0u;
  if (start < end) { at = unit_index(u); }
  for (var i = start; i < end; i++) {
#if EMBED
    if (at >= p.row0 && at - p.row0 < p.rows) {
      put_item(i, (at - p.row0) * p.dim + e);
    } else if (at >= p.vocab && p.row0 == 0u) {
      put_nan(i);
    }
#elif SCATTER
    if (at < p.dst_units) { dst[at * p.unit_items + e] = src[i]; }
#else
    if (at < p.src_units) { dst[i] = src[at * p.unit_items + e]; } else { dst[i] = nan_item(); }
#endif
    e += 1u;
    if (e == len) {
      e = 0u;
      u += 1u;
      if (i + 1u < end) { at = unit_index(u); }
    }
  }
}
