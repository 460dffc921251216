// The tiling of the matrix kernels (matmul*.wgsl, matmul_q4*.wgsl): invocation `tile` computes the TM×TN block of
// y at rows m0.., columns n0.. of the bound weight part, and stores it with bias and accumulation. The includer
// declares TM, TN (4: a tile row is one vec4f), the uniform `p` (m, n, col0, ldy, acc), y and, with HAS_BIAS, bias;
// without SUBGROUPS also WG (invocations per workgroup, one tile each), with SUBGROUPS LANES (TM = LANES: a
// workgroup is one subgroup, lane l owning weight rows l·TN.. of the workgroup's LANES·TN).
// Defines: HAS_BIAS, SUBGROUPS.

// ms/ns: the tile's x rows and weight rows; those past the edges are clamped (computed twice, never stored): no
// divergent early exit.
struct Tile { m0: u32, n0: u32, ms: array<u32, TM>, ns: array<u32, TN> }

fn clampedTile(m0: u32, n0: u32) -> Tile {
  var t: Tile;
  t.m0 = m0;
  t.n0 = n0;
  for (var i = 0u; i < TM; i++) { t.ms[i] = min(m0 + i, p.m - 1u); }
  for (var j = 0u; j < TN; j++) { t.ns[j] = min(n0 + j, p.n - 1u); }
  return t;
}

#if SUBGROUPS
fn tileOf(wid: vec3u, nwg: vec3u, lane: u32) -> Tile {
  let tilesN = (p.n + LANES * TN - 1u) / (LANES * TN);
  let tile = wid.x + wid.y * nwg.x;
  return clampedTile((tile / tilesN) * TM, (tile % tilesN) * LANES * TN + lane * TN);
}

// acc[i] += m · (x row i), for the TM rows the subgroup shares: `v` is lane i's part of its row, read with
// subgroupShuffle from a constant lane (a register permutation on lavapipe; subgroupBroadcast measured 20-25%
// slower there: llvmpipe adds a masked move to each use).
fn addSharedRows(acc: ptr<function, array<vec4f, TM>>, m: mat4x4f, v: vec4f) {
  (*acc)[0] += m * subgroupShuffle(v, 0u);
  (*acc)[1] += m * subgroupShuffle(v, 1u);
  (*acc)[2] += m * subgroupShuffle(v, 2u);
  (*acc)[3] += m * subgroupShuffle(v, 3u);
  (*acc)[4] += m * subgroupShuffle(v, 4u);
  (*acc)[5] += m * subgroupShuffle(v, 5u);
  (*acc)[6] += m * subgroupShuffle(v, 6u);
  (*acc)[7] += m * subgroupShuffle(v, 7u);
}
#else
fn tileOf(wid: vec3u, nwg: vec3u, lid: u32) -> Tile {
  let tilesN = (p.n + TN - 1u) / TN;
  let tile = (wid.x + wid.y * nwg.x) * WG + lid;
  return clampedTile((tile / tilesN) * TM, (tile % tilesN) * TN);
}
#endif

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
