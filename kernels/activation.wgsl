// Element-wise activations, f32 math, one element per invocation.
//   default:  gated MLP  out[r, c] = silu(gu[r, c]) · gu[r, I + c]   (gu = [M, 2I]: gate columns, then up columns)
//   GELU:     y = 0.5 · x · (1 + erf(x / √2))   (exact-erf GELU, torch.nn.GELU() default; IN_PLACE: y is x)

struct P { n: u32, cols: u32 }
@group(0) @binding(0) var<uniform> p: P;
#if GELU
#if IN_PLACE
@group(0) @binding(1) var<storage, read_write> x: array<act>;
#else
@group(0) @binding(1) var<storage, read> x: array<act>;
@group(0) @binding(2) var<storage, read_write> y: array<act>;
#endif
#else
@group(0) @binding(1) var<storage, read> gu: array<act>;
@group(0) @binding(2) var<storage, read_write> out: array<act>;
#endif

const WG = 256u;

// 1 + erf(z) with a small *relative* error everywhere, so GELU stays accurate where 1 + erf(z) is tiny (x << 0).
// WGSL has no erf.
//  - z >= -475/512: Norbert Juffa's faithfully rounded erff (max error < 1 ulp of erf; also MLX's metal erf.h):
//    |z| <= 475/512: erf(z) = z + z·P(z²); above: erf(z) = 1 - exp(R(z)).
//  - z < -475/512: 1 + erf(z) = erfc(-z), from the Chebyshev fit of Numerical Recipes' erfcc (fractional error
//    < 1.2e-7): erfc(t) = u·exp(-t² - 1.26551223 + u·Q(u)), u = 1 / (1 + t/2). (1 - exp(R) would lose all relative
//    accuracy here: it is built for erf ≈ -1, not for the small difference.)
fn one_plus_erf(z: f32) -> f32 {
  let t = abs(z);
  if (z < -0.927734375) {
    let u = 1.0 / (1.0 + 0.5 * t);
    var q = fma(u, 0.17087277, -0.82215223);
    q = fma(q, u, 1.48851587);
    q = fma(q, u, -1.13520398);
    q = fma(q, u, 0.27886807);
    q = fma(q, u, -0.18628806);
    q = fma(q, u, 0.09678418);
    q = fma(q, u, 0.37409196);
    q = fma(q, u, 1.00002368);
    q = fma(q, u, -1.26551223);
    return u * exp(q - t * t);
  }
  if (t > 0.927734375) {
    var r = fma(-1.72853470e-5, t, 3.83197126e-4);
    let v = fma(-3.88396438e-3, t, 2.42546219e-2);
    r = fma(r, t * t, v);
    r = fma(r, t, -1.06777877e-1);
    r = fma(r, t, -6.34846687e-1);
    r = fma(r, t, -1.28717512e-1);
    r = fma(r, t, -t);
    return 2.0 - exp(r);
  }
  let s = z * z;
  var r = -5.96761703e-4;
  r = fma(r, s, 4.99119423e-3);
  r = fma(r, s, -2.67681349e-2);
  r = fma(r, s, 1.12819925e-1);
  r = fma(r, s, -3.76125336e-1);
  r = fma(r, s, 1.28379166e-1);
  return 1.0 + fma(r, z, z);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.n) { return; }
#if GELU
  let v = f32(x[i]);
  let g = 0.5 * v * one_plus_erf(v * 0.70710678118654752);
#if IN_PLACE
  x[i] = act(g);
#else
  y[i] = act(g);
#endif
#else
  let row = i / p.cols;
  let c = i - row * p.cols;
  let gate = f32(gu[2u * row * p.cols + c]);
  let up = f32(gu[(2u * row + 1u) * p.cols + c]);
  // silu(g) = g / (1 + e^-g); for g < -88 e^-g is inf and the quotient the correct -0.
  out[i] = act(gate / (1.0 + exp(-gate)) * up);
#endif
}
