// Element-wise activations, f32 math. An "item" is one element, or with VEC4 four consecutive ones (act4 loads
// and stores); invocation g handles items g·PER .. g·PER + PER - 1 (a contiguous chunk: CPU adapters stream it
// fastest; PER = 1 is the coalesced layout for GPUs).
//   default:  gated MLP  out[r, c] = silu(gu[r, c]) · gu[r, I + c]   (gu = [M, 2I]: gate columns, then up columns;
//             p.cols = items per row of out, so VEC4 needs I % 4 == 0)
//   GELU:     y = 0.5 · x · (1 + erf(x / √2))   (exact-erf GELU, torch.nn.GELU() default; IN_PLACE: y is x), items
//             p.first .. p.n - 1 (the op runs the last n % 4 elements of a VEC4 call as a scalar tail)

struct P { n: u32, cols: u32, first: u32 }
@group(0) @binding(0) var<uniform> p: P;
#include "_items.wgsl" // V, F
#if GELU
#if IN_PLACE
@group(0) @binding(1) var<storage, read_write> x: array<V>;
#else
@group(0) @binding(1) var<storage, read> x: array<V>;
@group(0) @binding(2) var<storage, read_write> y: array<V>;
#endif
#else
@group(0) @binding(1) var<storage, read> gu: array<V>;
@group(0) @binding(2) var<storage, read_write> out: array<V>;
#endif

override WG: u32 = 256;
override PER: u32 = 1;

// 1 + erf(z) with a small *relative* error everywhere, so GELU stays accurate where 1 + erf(z) is tiny (x << 0).
// WGSL has no erf.
//  - z >= -475/512: Norbert Juffa's faithfully rounded erff (max error < 1 ulp of erf; also MLX's metal erf.h):
//    |z| <= 475/512: erf(z) = z + z·P(z²); above: erf(z) = 1 - exp(R(z)).
//  - z < -475/512: 1 + erf(z) = erfc(-z), from the Chebyshev fit of Numerical Recipes' erfcc (fractional error
//    < 1.2e-7): erfc(t) = u·exp(-t² - 1.26551223 + u·Q(u)), u = 1 / (1 + t/2). (1 - exp(R) would lose all relative
//    accuracy here: it is built for erf ≈ -1, not for the small difference.)
// All three pieces are evaluated and `select` picks one, so a vector of four elements needs no branches (the SIMD
// lanes of a CPU adapter would run every taken branch anyway). Pieces outside their range may overflow to inf or
// NaN; they are never selected.
fn one_plus_erf(z: F) -> F {
  let t = abs(z);
  let tail = z < F(-0.927734375);
  let u = 1.0 / (1.0 + 0.5 * t);
  var q = fma(u, F(0.17087277), F(-0.82215223));
  q = fma(q, u, F(1.48851587));
  q = fma(q, u, F(-1.13520398));
  q = fma(q, u, F(0.27886807));
  q = fma(q, u, F(-0.18628806));
  q = fma(q, u, F(0.09678418));
  q = fma(q, u, F(0.37409196));
  q = fma(q, u, F(1.00002368));
  q = fma(q, u, F(-1.26551223));

  var r = fma(F(-1.72853470e-5), t, F(3.83197126e-4));
  let v = fma(F(-3.88396438e-3), t, F(2.42546219e-2));
  r = fma(r, t * t, v);
  r = fma(r, t, F(-1.06777877e-1));
  r = fma(r, t, F(-6.34846687e-1));
  r = fma(r, t, F(-1.28717512e-1));
  r = fma(r, t, -t);
  // One exp serves both outer pieces: exp(-t² + Q) for the erfc tail, exp(R) for erf above 475/512.
  let e = exp(select(r, q - t * t, tail));

  let s = z * z;
  var m = F(-5.96761703e-4);
  m = fma(m, s, F(4.99119423e-3));
  m = fma(m, s, F(-2.67681349e-2));
  m = fma(m, s, F(1.12819925e-1));
  m = fma(m, s, F(-3.76125336e-1));
  m = fma(m, s, F(1.28379166e-1));
  let erf_mid = 1.0 + fma(m, z, z);

  return select(select(erf_mid, 2.0 - e, t > F(0.927734375)), u * e, tail);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let g = (wid.x + wid.y * nwg.x) * WG + lid;
#if GELU
  let start = p.first + g * PER;
  let end = min(start + PER, p.n);
  for (var i = start; i < end; i++) {
    let v = F(x[i]);
    let gl = 0.5 * v * one_plus_erf(v * 0.70710678118654752);
#if IN_PLACE
    x[i] = V(gl);
#else
    y[i] = V(gl);
#endif
  }
#else
  let start = g * PER;
  let end = min(start + PER, p.n);
  var row = start / p.cols;
  var c = start - row * p.cols;
  for (var i = start; i < end; i++) {
    let gate = F(gu[2u * row * p.cols + c]);
    let up = F(gu[(2u * row + 1u) * p.cols + c]);
    // silu(g) = g / (1 + e^-g); for g < -88 e^-g is inf and the quotient the correct -0.
    out[i] = V(gate / (1.0 + exp(-gate)) * up);
    c += 1u;
    if (c == p.cols) { c = 0u; row += 1u; }
  }
#endif
}
