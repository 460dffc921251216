// Row movement, one element per invocation. A "unit" is `unit_elems` consecutive elements (rows-per-unit × D).
//   GATHER:  dst unit i = src unit index[i]; an index past the source writes NaN (loud, never out of bounds).
//   SCATTER: dst unit index[i] = src unit i; an index past the destination is skipped. Indices must be distinct.
//   EMBED:   out[t, :] = table[ids[t], :] for the ids in [row0, row0 + rows), the rows of one part of a table
//            that may be split across bindings (one dispatch per part). The dispatch for the part holding row 0
//            also writes NaN rows for ids >= vocab. Table dtype: f32, or packed f16 (W_F16) / bf16 (W_BF16).

#if EMBED
struct P { n: u32, dim: u32, row0: u32, rows: u32, vocab: u32, nan_bits: u32 }
#else
struct P { n: u32, unit_elems: u32, src_units: u32, dst_units: u32, nan_bits: u32 }
#endif
@group(0) @binding(0) var<uniform> p: P;
#if EMBED
#if W_F16
@group(0) @binding(1) var<storage, read> table: array<u32>;
#elif W_BF16
@group(0) @binding(1) var<storage, read> table: array<u32>;
#else
@group(0) @binding(1) var<storage, read> table: array<f32>;
#endif
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read_write> dst: array<act>;
#else
@group(0) @binding(1) var<storage, read> src: array<act>;
@group(0) @binding(2) var<storage, read> index: array<u32>;
@group(0) @binding(3) var<storage, read_write> dst: array<act>;
#endif

const WG = 256u;

// NaN comes from the host (p.nan_bits = a NaN bit pattern): WGSL rejects NaN constants.
fn nan_act() -> act {
#if ACT_F16
  return bitcast<vec2<f16>>(p.nan_bits).x;
#else
  return bitcast<f32>(p.nan_bits);
#endif
}

#if EMBED
fn table_value(e: u32) -> f32 {
#if W_F16
  return unpack2x16float(table[e >> 1u])[e & 1u];
#elif W_BF16
  let word = table[e >> 1u];
  return bitcast<f32>(select(word << 16u, word & 0xffff0000u, (e & 1u) == 1u));
#else
  return table[e];
#endif
}
#endif

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.n) { return; }
#if EMBED
  let t = i / p.dim;
  let c = i - t * p.dim;
  let id = ids[t];
  if (id >= p.row0 && id - p.row0 < p.rows) {
    dst[i] = act(table_value((id - p.row0) * p.dim + c));
  } else if (id >= p.vocab && p.row0 == 0u) {
    dst[i] = nan_act();
  }
#else
  let u = i / p.unit_elems;
  let e = i - u * p.unit_elems;
#if SCATTER
  let d = index[u];
  if (d < p.dst_units) { dst[d * p.unit_elems + e] = src[i]; }
#else
  let s = index[u];
  if (s < p.src_units) { dst[i] = src[s * p.unit_elems + e]; } else { dst[i] = nan_act(); }
#endif
#endif
}
