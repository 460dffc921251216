// The tiling of the matrix kernels (matmul.wgsl, matmul_q4.wgsl): invocation `tile` computes the TM×TN block of y
// at rows m0.., columns n0.. of the bound weight part, and stores it with bias and accumulation. The includer
// declares TM, TN (4: a tile row is one vec4f), WG, the uniform `p` (m, n, col0, ldy, acc), y and, with HAS_BIAS,
// bias. Defines: HAS_BIAS.

// ms/ns: the tile's x rows and weight rows; those past the edges are clamped (computed twice, never stored): no
// divergent early exit.
struct Tile { m0: u32, n0: u32, ms: array<u32, TM>, ns: array<u32, TN> }

fn tileOf(wid: vec3u, nwg: vec3u, lid: u32) -> Tile {
  let tilesN = (p.n + TN - 1u) / TN;
  let tile = (wid.x + wid.y * nwg.x) * WG + lid;
  var t: Tile;
  t.m0 = (tile / tilesN) * TM;
  t.n0 = (tile % tilesN) * TN;
  for (var i = 0u; i < TM; i++) { t.ms[i] = min(t.m0 + i, p.m - 1u); }
  for (var j = 0u; j < TN; j++) { t.ns[j] = min(t.n0 + j, p.n - 1u); }
  return t;
}

// y[m0 + i, col0 + n0 + j] (+)= sums[i][j] (+ bias) for the tile's elements inside the edges.
fn storeTile(t: Tile, tile_sums: array<vec4f, TM>) {
  var sums = tile_sums;
  for (var i = 0u; i < TM; i++) {
    if (t.m0 + i < p.m) {
      for (var j = 0u; j < TN; j++) {
        if (t.n0 + j < p.n) {
          let col = p.col0 + t.n0 + j;
          var v = sums[i][j];
#if HAS_BIAS
          v += bias[col];
#endif
          let at = (t.m0 + i) * p.ldy + col;
          if (p.acc != 0u) { v += f32(y[at]); }
          y[at] = act(v);
        }
      }
    }
  }
}
