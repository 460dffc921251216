// The one seeded PRNG (mulberry32) of the engine, its tests, self-tests and asset generators: small, fast and
// reproducible everywhere (same seed -> same sequence -> same generated checkpoints, images and inputs).
// Platform-neutral.

/** mulberry32: a stream of uniform numbers in [0, 1) (multiples of 2^-32). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` uniform values in [lo, hi) from a fresh mulberry32(seed) stream, rounded to f32. */
export function uniformArray(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const next = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * next();
  return out;
}

/** `n` standard normal values (Box-Muller, two per pair of draws from `next`; u = 1 - draw keeps the log finite). */
export function normalArray(n: number, next: () => number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = 1 - next(); // (0, 1]
    const r = Math.sqrt(-2 * Math.log(u));
    const th = 2 * Math.PI * next();
    out[i] = r * Math.cos(th);
    if (i + 1 < n) out[i + 1] = r * Math.sin(th);
  }
  return out;
}
