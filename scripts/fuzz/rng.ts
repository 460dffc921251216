// The fuzzers' random source: the engine's one seeded PRNG (mulberry32, src/util/random.ts) with the draws the
// mutators need. Input i of a run with seed S always gets the same stream (inputRng), so `--seed S --skip i
// --inputs 1` replays exactly one input.
import { mulberry32 } from '../../src/util/random.js';

export class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  /** Uniform in [0, 1). */
  float(): number {
    return this.next();
  }
  /** Integer in [0, n) (n >= 1). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** Integer in [lo, hi] inclusive. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  /** Small numbers much more often than large ones (lengths, counts, depths). */
  skewed(max: number): number {
    return Math.floor(max ** this.next()) - 1 + (this.chance(0.5) ? 1 : 0);
  }
}

/** The stream of input `index` of a run with `seed` (independent of how many inputs came before). */
export function inputRng(seed: number, index: number): Rng {
  // Two mulberry32 steps mix seed and index so neighbouring (seed, index) pairs give unrelated streams.
  const mixed = mulberry32((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0)();
  return new Rng(Math.floor(mixed * 2 ** 32) ^ index);
}
