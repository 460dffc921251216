// The output side of the matrix-vector kernels (matmul_vec.wgsl, matmul_vec_q4.wgsl): which weight rows an
// invocation owns, the meeting of the T lanes' partial sums, and the store (bias, accumulation, the NORM_IN scale,
// the SILU_PAIRS epilogue). The includer declares R (rows per invocation), OUTS (outputs per invocation: R, or 2
// with SILU_PAIRS), T, MAX_WG, the uniform `p` (n, k, col0, acc, row_a, row_b, eps), y and, with HAS_BIAS, bias.
// Defines: HAS_BIAS, NORM_IN, SILU_PAIRS.

// Row sums (R of them) and, with NORM_IN, Σx² as one more slot.
var<workgroup> partial: array<f32, MAX_WG * (R + 1u)>;

// The R weight rows of the invocation whose first output is out0; `second`: the row lives in the second weight
// binding (SILU_PAIRS: rows 2, 3 are up rows row_b + j, j+1 for gate rows row_a + j, j+1). Rows past the part are
// clamped (computed twice, never stored): no divergent early exit.
struct RowGroup { rows: array<u32, R>, second: array<bool, R> }

fn rowGroup(out0: u32) -> RowGroup {
  var g: RowGroup;
  for (var r = 0u; r < R; r++) {
#if SILU_PAIRS
    g.rows[r] = select(p.row_a, p.row_b, r >= 2u) + min(out0 + r % 2u, p.n - 1u);
    g.second[r] = r >= 2u;
#else
    g.rows[r] = p.row_a + min(out0 + r, p.n - 1u);
    g.second[r] = false;
#endif
  }
  return g;
}

fn store(n: u32, s: f32) {
  let col = p.col0 + n;
  var v = s;
#if HAS_BIAS
  v += bias[col];
#endif
  if (p.acc != 0u) { v += f32(y[col]); }
  y[col] = act(v);
}

// Lane t of the T sharing a row group hands in its sums (sums[R]: its part of Σx²); lane 0 stores the outputs.
fn finishRows(lane_sums: array<f32, R + 1u>, lid: u32, t: u32, out0: u32) {
  var sums = lane_sums;
  if (T > 1u) {
    for (var r = 0u; r <= R; r++) { partial[lid * (R + 1u) + r] = sums[r]; }
    workgroupBarrier();
    if (t == 0u) {
      for (var r = 0u; r <= R; r++) {
        var s = 0.0;
        for (var u = 0u; u < T; u++) { s += partial[(lid + u) * (R + 1u) + r]; }
        sums[r] = s;
      }
    }
  }
  if (t == 0u) {
#if NORM_IN
    let scale = inverseSqrt(sums[R] / f32(p.k) + p.eps);
#else
    let scale = 1.0;
#endif
#if SILU_PAIRS
    for (var j = 0u; j < 2u; j++) {
      if (out0 + j < p.n) {
        let gate = sums[j] * scale;
        let up = sums[j + 2u] * scale;
        // silu(g) = g / (1 + e^-g); for g < -88 e^-g is inf and the quotient the correct -0.
        store(out0 + j, gate / (1.0 + exp(-gate)) * up);
      }
    }
#else
    for (var r = 0u; r < R; r++) {
      if (out0 + r < p.n) { store(out0 + r, sums[r] * scale); }
    }
#endif
  }
}
