// Incremental M-RoPE position assignment (Qwen2.5-VL get_rope_index, MODEL.md §5 and §7), fed chunk by chunk so a
// later turn continues the cached prefix exactly:
//  - a text/special token gets (p, p, p), then p += 1;
//  - an image block of merged grid (Lh, Lw) starts at the <|image_pad|> right after <|vision_start|>; its token
//    (r, c) in raster order gets (p, p + r, p + c); after the block p += max(Lh, Lw);
//  - decoding token i (absolute index) gets i + ropeDeltas on all three axes, which equals continuing p.

import { VilavtError } from '../runtime/errors.js';

/** Token sequence inconsistent with the image grids given. */
export class MropeError extends VilavtError {
  constructor(message: string) {
    super('mrope', message);
  }
}

/** Merged grid of one image block: Lh x Lw <|image_pad|> tokens (patch grid / spatial_merge_size). */
export type MergedGrid = readonly [lh: number, lw: number];

/** Merged grid of an image from its patch grid [t, gh, gw] (still images only: t must be 1). */
export function mergedGridOf(gridThw: readonly [number, number, number], mergeSize: number): MergedGrid {
  const [t, gh, gw] = gridThw;
  if (t !== 1) throw new MropeError(`only still images (t = 1) are supported, got t = ${t}`);
  if (!Number.isSafeInteger(gh) || !Number.isSafeInteger(gw) || gh <= 0 || gw <= 0 ||
    gh % mergeSize !== 0 || gw % mergeSize !== 0) {
    throw new MropeError(`grid ${gh}x${gw} is not a positive multiple of mergeSize ${mergeSize}`);
  }
  return [gh / mergeSize, gw / mergeSize];
}

export interface MropeTokenIds {
  imagePad: number;
  visionStart: number;
}

export class MropePositions {
  private readonly imagePad: number;
  private readonly visionStart: number;
  /** Next text position p (valid between blocks). */
  private next = 0;
  private total = 0;
  private prevToken: number | undefined;
  private readonly pending: MergedGrid[] = [];
  /** Open image block: its grid, start position and how many of its tokens were seen. */
  private block: { lh: number; lw: number; start: number; seen: number } | undefined;
  private blocksDone = 0;

  /** Token ids: real model <|image_pad|> 151655 / <|vision_start|> 151652; tiny-a 312 / 309. */
  constructor(ids: MropeTokenIds) {
    if (ids.imagePad === ids.visionStart) throw new MropeError('imagePad and visionStart ids must differ');
    this.imagePad = ids.imagePad;
    this.visionStart = ids.visionStart;
  }

  /** Tokens appended so far. */
  get length(): number {
    return this.total;
  }

  /** Next position p (what the next text token gets). Throws inside an unfinished image block. */
  get nextPosition(): number {
    this.requireOutsideBlock('nextPosition');
    return this.next;
  }

  /** max(position) + 1 - length (valid between blocks). */
  get ropeDeltas(): number {
    this.requireOutsideBlock('ropeDeltas');
    return this.next - this.total;
  }

  /** Image blocks completed so far. */
  get imageBlocks(): number {
    return this.blocksDone;
  }

  /** Grids given but not yet used by an image block. */
  get pendingGrids(): number {
    return this.pending.length;
  }

  /** True while an image block is open (some of its <|image_pad|> tokens not yet appended). */
  get insideImageBlock(): boolean {
    return this.block !== undefined;
  }

  /** Position (same on t, h, w) of a decoded token with absolute index i >= length (HF: cache_position + rope_deltas). */
  decodePosition(i: number): number {
    if (!Number.isSafeInteger(i) || i < this.total) {
      throw new MropeError(`decode index ${i} must be an integer >= the current length ${this.total}`);
    }
    return i + this.ropeDeltas;
  }

  /**
   * Append a chunk of token ids. `grids` (merged Lh x Lw, in order) are queued for the image blocks that start
   * in this chunk or later. Returns the chunk's positions as [3, L] (t row, h row, w row).
   */
  append(ids: ArrayLike<number>, grids: readonly MergedGrid[] = []): Int32Array {
    const saved = { next: this.next, total: this.total, prevToken: this.prevToken, pending: [...this.pending],
      block: this.block && { ...this.block }, blocksDone: this.blocksDone };
    try {
      return this.appendUnchecked(ids, grids);
    } catch (e) {
      // Restore the state from before the call so the caller can recover (e.g. re-append with the right grids).
      this.next = saved.next;
      this.total = saved.total;
      this.prevToken = saved.prevToken;
      this.pending.splice(0, this.pending.length, ...saved.pending);
      this.block = saved.block;
      this.blocksDone = saved.blocksDone;
      throw e;
    }
  }

  private appendUnchecked(ids: ArrayLike<number>, grids: readonly MergedGrid[]): Int32Array {
    for (const g of grids) {
      if (g.length !== 2 || !Number.isSafeInteger(g[0]) || !Number.isSafeInteger(g[1]) || g[0] < 1 || g[1] < 1) {
        throw new MropeError(`merged grid must be [Lh, Lw] positive integers, got [${g.join(', ')}]`);
      }
      this.pending.push([g[0], g[1]]);
    }
    const L = ids.length;
    const out = new Int32Array(3 * L);
    for (let i = 0; i < L; i++) {
      const id = ids[i]!;
      let t: number, h: number, w: number;
      if (this.block === undefined && id === this.imagePad) {
        if (this.prevToken !== this.visionStart) {
          throw new MropeError(`<|image_pad|> at index ${this.total} does not follow <|vision_start|>`);
        }
        const grid = this.pending.shift();
        if (grid === undefined) {
          throw new MropeError(`image block ${this.blocksDone} at index ${this.total} has no grid`);
        }
        this.block = { lh: grid[0], lw: grid[1], start: this.next, seen: 0 };
      }
      const b = this.block;
      if (b !== undefined) {
        if (id !== this.imagePad) {
          throw new MropeError(
            `image block ${this.blocksDone} expects ${b.lh * b.lw} <|image_pad|> tokens, ` +
              `got ${b.seen} then token ${id} at index ${this.total}`,
          );
        }
        const r = Math.floor(b.seen / b.lw);
        const c = b.seen - r * b.lw;
        t = b.start;
        h = b.start + r;
        w = b.start + c;
        if (++b.seen === b.lh * b.lw) {
          this.next = b.start + Math.max(b.lh, b.lw);
          this.block = undefined;
          this.blocksDone++;
        }
      } else {
        t = h = w = this.next++;
      }
      out[i] = t;
      out[L + i] = h;
      out[2 * L + i] = w;
      this.prevToken = id;
      this.total++;
    }
    return out;
  }

  private requireOutsideBlock(what: string): void {
    if (this.block !== undefined) {
      throw new MropeError(`${what} is undefined inside image block ${this.blocksDone} (${this.block.seen} of ` +
        `${this.block.lh * this.block.lw} tokens appended)`);
    }
  }
}
