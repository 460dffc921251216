// Exact integer planning of one ViT call (MODEL.md §3.3-§3.5): rotary positions, window permutation and the segment
// tables of the three attention kinds. Platform-neutral, no floats: the GPU engine uploads these arrays as is.
//
// Orders used below:
//  - processor order: patch tokens as Qwen2VLImageProcessor emits them (per image, 2x2 merge order, MODEL.md §2.3);
//  - window order:    merged units (mergeSize² consecutive patch tokens) gathered by `windowIndex`.

import { VilavtError } from '../runtime/errors.js';
import type { VisionConfig } from './config.js';

/** Invalid arguments for a ViT call plan. */
export class VisionPlanError extends VilavtError {
  constructor(message: string) {
    super('vision-plan', message);
  }
}

/** Patch grid of one image: [t, gh, gw] in patch units (t = 1 for still images). */
export type GridThw = readonly [t: number, gh: number, gw: number];

export interface VisionCallInput {
  /** One grid per image, in call order. */
  grids: readonly GridThw[];
  /** Query-group id of each image: starts at 0, each next image keeps the id or increments it by 1. */
  imageGroup: readonly number[];
  /** Valid inquiry tokens n_g per group (0 = no inquiry). */
  groupTextTokens: readonly number[];
  /** Padded inquiry length T (the text-encoder batch width). Only used for `inquiryPosPadded`. */
  paddedTextLen?: number;
  /** vision_config.window_size (pixels), patch_size, spatial_merge_size. */
  windowSize: number;
  patchSize: number;
  mergeSize: number;
}

export interface VisionPlan {
  numImages: number;
  numGroups: number;
  /** Patch tokens N. */
  numPatches: number;
  /** Merged units N / mergeSize². */
  numMerged: number;
  /** mergeSize² (patch tokens per merged unit). */
  mergeUnit: number;
  /** [N, 2] rotary (row, col) of every patch token, processor order, incl. the in-group offsets. */
  posIds: Int32Array;
  /** [N, 2] `posIds` gathered into window order (what the rotary tables of the blocks are built from). */
  posIdsWindowOrder: Int32Array;
  /** [N/unit] window order slot i holds merged unit windowIndex[i] (processor order). */
  windowIndex: Int32Array;
  /** [N/unit] inverse permutation (= argsort(windowIndex)): final row m is window-order row reverseIndex[m]. */
  reverseIndex: Int32Array;
  /** Window segment boundaries in patch tokens (deduplicated, starts at 0, ends at N). */
  cuWindowSeqlens: Int32Array;
  /** Per image (per frame) segment boundaries in patch tokens. */
  cuSeqlens: Int32Array;
  /** Per group boundaries of the image (query) tokens. */
  cuSeqlensQ: Int32Array;
  /** Per group boundaries of [image tokens; valid inquiry tokens] in the QA key/value layout. */
  cuSeqlensK: Int32Array;
  /** Per group: start of its inquiry keys in the QA key layout (= cuSeqlensK[g] + image tokens of g). */
  textKeyStart: Int32Array;
  /** Per group S_g = sum over its images of max(gh, gw): rotary position of inquiry slot 0. */
  groupTextPosStart: Int32Array;
  /** Per group: rotary position (same on both axes) of valid inquiry token j = S_g + j (right padding). */
  inquiryPos: Int32Array[];
  /** [G, T] position S_g + j of every padded slot j (the reference's inquiry_pos_ids); only with paddedTextLen. */
  inquiryPosPadded?: Int32Array;
  /** [N] group id of every patch token (identical in processor and window order). */
  groupOfToken: Int32Array;
  /** [N] image index of every patch token (identical in processor and window order). */
  imageOfToken: Int32Array;
  /** Per image: first patch token (processor order; also window order, images keep their ranges). */
  imageTokenStart: Int32Array;
  /** Per image: first merged unit (row of the final features). */
  imageMergedStart: Int32Array;
  /** Merged windows per side, = floor(windowSize / mergeSize / patchSize). */
  mergedWindowSide: number;
  /** 1 + largest rotary position used (image tokens and, if given, padded inquiry slots): rotary table size. */
  maxPosition: number;
}

function checkInt(value: number, what: string, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new VisionPlanError(`${what} must be an integer >= ${min}, got ${value}`);
  }
}

/** Inverse of a permutation of 0..n-1 (throws if `perm` is not one). */
export function invertPermutation(perm: ArrayLike<number>): Int32Array {
  const n = perm.length;
  const inv = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    const p = perm[i]!;
    if (!Number.isInteger(p) || p < 0 || p >= n || inv[p] !== -1) {
      throw new VisionPlanError(`not a permutation of 0..${n - 1}: element ${i} is ${p}`);
    }
    inv[p] = i;
  }
  return inv;
}

export function planVisionCall(input: VisionCallInput): VisionPlan {
  const { grids, imageGroup, groupTextTokens, paddedTextLen, windowSize, patchSize, mergeSize } = input;
  checkInt(patchSize, 'patchSize', 1);
  checkInt(mergeSize, 'mergeSize', 1);
  checkInt(windowSize, 'windowSize', 1);
  // Python: window_size // spatial_merge_size // patch_size.
  const side = Math.floor(Math.floor(windowSize / mergeSize) / patchSize);
  if (side < 1) throw new VisionPlanError(`windowSize ${windowSize} is smaller than one merged unit`);
  const M = grids.length;
  if (M === 0) throw new VisionPlanError('a vision call needs at least one image');
  if (imageGroup.length !== M) {
    throw new VisionPlanError(`imageGroup has ${imageGroup.length} entries for ${M} images`);
  }
  for (let k = 0; k < M; k++) {
    const g = imageGroup[k]!;
    const expected = k === 0 ? [0] : [imageGroup[k - 1]!, imageGroup[k - 1]! + 1];
    if (!expected.includes(g)) {
      throw new VisionPlanError(
        `imageGroup must start at 0 and be contiguous and increasing; image ${k} has group ${g} ` +
          `(allowed: ${expected.join(' or ')})`,
      );
    }
  }
  const G = imageGroup[M - 1]! + 1;
  if (groupTextTokens.length !== G) {
    throw new VisionPlanError(`groupTextTokens has ${groupTextTokens.length} entries for ${G} groups`);
  }
  groupTextTokens.forEach((n, g) => checkInt(n, `groupTextTokens[${g}]`, 0));
  if (paddedTextLen !== undefined) {
    checkInt(paddedTextLen, 'paddedTextLen', 1);
    groupTextTokens.forEach((n, g) => {
      if (n > paddedTextLen) {
        throw new VisionPlanError(`group ${g} has ${n} inquiry tokens, more than paddedTextLen ${paddedTextLen}`);
      }
    });
  }
  grids.forEach((grid, k) => {
    if (grid.length !== 3) throw new VisionPlanError(`grid ${k} must be [t, gh, gw]`);
    checkInt(grid[0], `grid ${k} t`, 1);
    checkInt(grid[1], `grid ${k} gh`, mergeSize);
    checkInt(grid[2], `grid ${k} gw`, mergeSize);
    if (grid[1] % mergeSize !== 0 || grid[2] % mergeSize !== 0) {
      throw new VisionPlanError(`grid ${k} (${grid[1]}x${grid[2]}) is not a multiple of mergeSize ${mergeSize}`);
    }
  });

  const unit = mergeSize * mergeSize;
  let N = 0;
  const imageTokenStart = new Int32Array(M);
  const imageMergedStart = new Int32Array(M);
  for (let k = 0; k < M; k++) {
    imageTokenStart[k] = N;
    imageMergedStart[k] = N / unit;
    const [t, gh, gw] = grids[k]!;
    N += t * gh * gw;
  }
  if (N > 0x7fffffff) throw new VisionPlanError(`too many patch tokens (${N})`);
  const numMerged = N / unit;

  // Rotary positions (rot_pos_emb_multi_image): offset resets at each new group, else grows by max(gh, gw).
  const posIds = new Int32Array(2 * N);
  const groupTextPosStart = new Int32Array(G);
  let offset = 0;
  let maxPosition = 0;
  for (let k = 0; k < M; k++) {
    if (k === 0 || imageGroup[k] !== imageGroup[k - 1]) offset = 0;
    const [t, gh, gw] = grids[k]!;
    let r = imageTokenStart[k]!;
    for (let f = 0; f < t; f++) {
      for (let bh = 0; bh < gh / mergeSize; bh++) {
        for (let bw = 0; bw < gw / mergeSize; bw++) {
          for (let mh = 0; mh < mergeSize; mh++) {
            for (let mw = 0; mw < mergeSize; mw++, r++) {
              posIds[2 * r] = bh * mergeSize + mh + offset;
              posIds[2 * r + 1] = bw * mergeSize + mw + offset;
            }
          }
        }
      }
    }
    maxPosition = Math.max(maxPosition, offset + Math.max(gh, gw));
    offset += Math.max(gh, gw);
    groupTextPosStart[imageGroup[k]!] = offset;
  }

  // Window permutation (get_window_index): per image and frame, windows of side x side merged units, row-major;
  // units inside a window row-major; windows with no unit vanish.
  const windowIndex = new Int32Array(numMerged);
  const cuWindow: number[] = [0];
  let w = 0;
  for (let k = 0; k < M; k++) {
    const [t, gh, gw] = grids[k]!;
    const lh = gh / mergeSize;
    const lw = gw / mergeSize;
    for (let f = 0; f < t; f++) {
      const frameBase = imageMergedStart[k]! + f * lh * lw;
      for (let wr = 0; wr * side < lh; wr++) {
        for (let wc = 0; wc * side < lw; wc++) {
          const rows = Math.min(side, lh - wr * side);
          const cols = Math.min(side, lw - wc * side);
          for (let i = 0; i < rows; i++) {
            for (let j = 0; j < cols; j++) {
              windowIndex[w++] = frameBase + (wr * side + i) * lw + wc * side + j;
            }
          }
          cuWindow.push(cuWindow[cuWindow.length - 1]! + rows * cols * unit);
        }
      }
    }
  }

  const reverseIndex = invertPermutation(windowIndex);
  const posIdsWindowOrder = new Int32Array(2 * N);
  for (let i = 0; i < numMerged; i++) {
    const src = windowIndex[i]! * unit;
    for (let u = 0; u < unit; u++) {
      posIdsWindowOrder[2 * (i * unit + u)] = posIds[2 * (src + u)]!;
      posIdsWindowOrder[2 * (i * unit + u) + 1] = posIds[2 * (src + u) + 1]!;
    }
  }

  // Per-image (per-frame) full attention segments.
  const cuSeqlens: number[] = [0];
  for (const [t, gh, gw] of grids) {
    for (let f = 0; f < t; f++) cuSeqlens.push(cuSeqlens[cuSeqlens.length - 1]! + gh * gw);
  }

  // QA segments: group image tokens as queries; keys add the group's valid inquiry tokens.
  const cuSeqlensQ = new Int32Array(G + 1);
  const cuSeqlensK = new Int32Array(G + 1);
  const textKeyStart = new Int32Array(G);
  const groupOfToken = new Int32Array(N);
  const imageOfToken = new Int32Array(N);
  const groupTokens = new Array<number>(G).fill(0);
  for (let k = 0; k < M; k++) {
    const [t, gh, gw] = grids[k]!;
    const n = t * gh * gw;
    groupTokens[imageGroup[k]!]! += n;
    groupOfToken.fill(imageGroup[k]!, imageTokenStart[k]!, imageTokenStart[k]! + n);
    imageOfToken.fill(k, imageTokenStart[k]!, imageTokenStart[k]! + n);
  }
  const inquiryPos: Int32Array[] = [];
  for (let g = 0; g < G; g++) {
    cuSeqlensQ[g + 1] = cuSeqlensQ[g]! + groupTokens[g]!;
    textKeyStart[g] = cuSeqlensK[g]! + groupTokens[g]!;
    cuSeqlensK[g + 1] = textKeyStart[g]! + groupTextTokens[g]!;
    const pos = new Int32Array(groupTextTokens[g]!);
    for (let j = 0; j < pos.length; j++) pos[j] = groupTextPosStart[g]! + j;
    inquiryPos.push(pos);
    if (pos.length > 0) maxPosition = Math.max(maxPosition, pos[pos.length - 1]! + 1);
  }
  let inquiryPosPadded: Int32Array | undefined;
  if (paddedTextLen !== undefined) {
    inquiryPosPadded = new Int32Array(G * paddedTextLen);
    for (let g = 0; g < G; g++) {
      for (let j = 0; j < paddedTextLen; j++) inquiryPosPadded[g * paddedTextLen + j] = groupTextPosStart[g]! + j;
    }
    for (let g = 0; g < G; g++) maxPosition = Math.max(maxPosition, groupTextPosStart[g]! + paddedTextLen);
  }

  return {
    numImages: M,
    numGroups: G,
    numPatches: N,
    numMerged,
    mergeUnit: unit,
    posIds,
    posIdsWindowOrder,
    windowIndex,
    reverseIndex,
    // Every window built above is non-empty, so the boundaries are already strictly increasing (deduplicated).
    cuWindowSeqlens: Int32Array.from(cuWindow),
    cuSeqlens: Int32Array.from(cuSeqlens),
    cuSeqlensQ,
    cuSeqlensK,
    textKeyStart,
    groupTextPosStart,
    inquiryPos,
    inquiryPosPadded,
    groupOfToken,
    imageOfToken,
    imageTokenStart,
    imageMergedStart,
    mergedWindowSide: side,
    maxPosition,
  };
}

/** Attention kind of every ViT block (MODEL.md §3.1: QA first, then per-image full, else window). */
export type VisionBlockKind = 'qa' | 'full' | 'window';

/** The kind of every block, from the config's QA blocks (`qaBlocksFor`) and full-attention blocks. */
export function visionBlockSchedule(v: Pick<VisionConfig, 'depth' | 'qaBlocks' | 'fullattBlocks'>): VisionBlockKind[] {
  checkInt(v.depth, 'depth', 1);
  const kinds: VisionBlockKind[] = [];
  for (let i = 0; i < v.depth; i++) {
    if (v.qaBlocks.includes(i)) kinds.push('qa');
    else if (v.fullattBlocks.includes(i)) kinds.push('full');
    else kinds.push('window');
  }
  return kinds;
}
