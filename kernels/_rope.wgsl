// The rotary pair shared by rope.wgsl and rope_kv.wgsl, f32 math: x0 = x[d] and x1 = x[d + half] rotated by θ_d
// (c = cos θ_d, s = sin θ_d) give (x0·c − x1·s, x1·c + x0·s), i.e. y = x·cos + rotate_half(x)·sin with
// emb = [θ, θ]. F is the includer's item type (_items.wgsl).
fn ropePair(x0: F, x1: F, c: F, s: F) -> array<F, 2> {
  return array<F, 2>(x0 * c - x1 * s, x1 * c + x0 * s);
}
