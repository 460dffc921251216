// The conversation's KV cache on the GPU plus the token ids it holds, and the prefix-reuse rule of spec §7: a new
// LLM call keeps the longest prefix of its (re-tokenized, pad-expanded) ids that equals the cached ids — where an
// image block only counts as equal when it is the same image with the same query group (pad ids alone say
// nothing about the pixels) — truncates the rest, rebuilds the M-RoPE positions of the kept prefix and prefills
// only the new tokens. Decoded tokens are appended one by one and stay reusable by the next call.
import type { DecodeState, ImageRows, LanguageModel, Sampling } from './llm.js';
import type { KvCache } from './kv-cache.js';
import { MropePositions, type MergedGrid } from './mrope.js';
import { ShapeError } from '../runtime/errors.js';

/** One `<|image_pad|>` run of a sequence, in order. */
export interface ImageBlock<K> {
  /** Index of its first `<|image_pad|>` in the ids. */
  start: number;
  grid: MergedGrid;
  /** What the block's features depend on (image pixels + its query group); compared with `sameKey`. */
  key: K;
}

export interface ContextCacheOptions<K> {
  capacity: number;
  imagePad: number;
  visionStart: number;
  /** True when two image blocks have identical features. */
  sameKey: (a: K, b: K) => boolean;
}

/** Where a call's ids meet the cache. */
export interface PrefixPlan {
  /** Leading ids served from the cache. */
  keep: number;
  /** Indices (into the call's blocks) of the image blocks that must be prefilled. */
  newBlocks: number[];
}

export type PrefillMode =
  | { kind: 'sample'; state: DecodeState; sampling: Sampling }
  | { kind: 'logits'; rows: 'last' | 'all' }
  | { kind: 'none' };

export class ContextCache<K> {
  private readonly cache: KvCache;
  private ids: number[] = [];
  private blocks: ImageBlock<K>[] = [];
  /** rope_deltas of the cached sequence (decode positions are index + ropeDeltas). */
  private ropeDeltas = 0;

  constructor(private readonly llm: LanguageModel, private readonly o: ContextCacheOptions<K>) {
    this.cache = llm.newCache(o.capacity);
  }

  /** Token ids whose K/V the cache holds. */
  get cachedIds(): readonly number[] {
    return this.ids;
  }
  get capacity(): number {
    return this.cache.capacity;
  }

  /** The longest reusable prefix of `ids` (at most ids.length - 1: the last row is always recomputed for its logits). */
  plan(ids: readonly number[], blocks: readonly ImageBlock<K>[]): PrefixPlan {
    const limit = Math.min(this.ids.length, ids.length - 1);
    let keep = 0;
    while (keep < limit && this.ids[keep] === ids[keep]) keep++;
    // Blocks starting inside the shared ids must be whole and identical, else the prefix ends where they start.
    let cached = 0;
    for (const b of blocks) {
      if (b.start >= keep) break;
      while (cached < this.blocks.length && this.blocks[cached]!.start < b.start) cached++;
      const c = this.blocks[cached];
      const len = b.grid[0] * b.grid[1];
      const same = c !== undefined && c.start === b.start && c.grid[0] === b.grid[0] && c.grid[1] === b.grid[1] &&
        b.start + len <= keep && this.o.sameKey(c.key, b.key);
      if (!same) {
        keep = b.start;
        break;
      }
    }
    const newBlocks: number[] = [];
    blocks.forEach((b, i) => { if (b.start >= keep) newBlocks.push(i); });
    return { keep, newBlocks };
  }

  /**
   * Make the cache hold `ids` (keeping `plan.keep` of them from before) and run the new ones. `images` carries
   * the features of the new blocks' pad rows (row indices relative to ids.slice(plan.keep)). On any error the
   * cache is rolled back to the kept prefix, so the next call starts from a consistent state.
   */
  async prefill(ids: readonly number[], blocks: readonly ImageBlock<K>[], plan: PrefixPlan, images: ImageRows | null,
    mode: PrefillMode, signal?: AbortSignal): Promise<{ token?: number; logits?: Float32Array }> {
    const { keep } = plan;
    if (keep < 0 || keep >= ids.length || keep > this.ids.length) throw new ShapeError(`prefill: keep ${keep} outside 0..${Math.min(ids.length - 1, this.ids.length)}`);
    const mrope = new MropePositions({ imagePad: this.o.imagePad, visionStart: this.o.visionStart });
    const grids = (from: number, to: number) => blocks.filter((b) => b.start >= from && b.start < to).map((b) => b.grid);
    mrope.append(ids.slice(0, keep), grids(0, keep));
    const fresh = ids.slice(keep);
    const positions = mrope.append(fresh, grids(keep, ids.length));
    this.rollback(keep);
    try {
      let out: { token?: number; logits?: Float32Array };
      if (mode.kind === 'sample') {
        out = { token: await this.llm.prefillAndSample(this.cache, fresh, positions, images, mode.state, mode.sampling, signal) };
      } else {
        const logits = await this.llm.prefill(this.cache, fresh, positions, images, { logits: mode.kind === 'logits' ? mode.rows : 'none', signal });
        out = logits ? { logits } : {};
      }
      if (this.cache.length !== ids.length) throw new ShapeError(`prefill: the KV cache holds ${this.cache.length} rows, expected ${ids.length}`);
      this.ids = ids.slice();
      this.blocks = blocks.map((b) => ({ ...b }));
      this.ropeDeltas = mrope.ropeDeltas;
      return out;
    } catch (e) {
      this.rollback(keep);
      throw e;
    }
  }

  /**
   * Feed `token` (already in `state.token`: sampled by the previous step) at the next position and sample the
   * following one. The fed token becomes part of the cached ids.
   */
  async decodeStep(token: number, state: DecodeState, sampling: Sampling): Promise<number> {
    const at = this.ids.length;
    try {
      const r = await this.llm.decodeStep(this.cache, state, at + this.ropeDeltas, sampling);
      this.ids.push(token);
      return r.token;
    } catch (e) {
      this.rollback(at);
      throw e;
    }
  }

  /** Drop everything after the first `n` cached ids. */
  rollback(n: number): void {
    const to = Math.min(n, this.ids.length, this.cache.length);
    this.cache.truncate(to);
    if (to < this.ids.length) this.ids.length = to;
    this.blocks = this.blocks.filter((b) => b.start + b.grid[0] * b.grid[1] <= to);
  }

  destroy(): void {
    this.cache.destroy();
    this.ids = [];
    this.blocks = [];
  }
}
