import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  invertPermutation, planVisionCall, visionBlockSchedule, VisionPlanError, type GridThw, type VisionCallInput, type VisionPlan,
} from '../../src/model/vision-plan.js';
import { readSafetensorsF64, refVisionIndexing, type SafetensorsF64 } from '../reference/reference.js';
import { qaBlocksFor, type IntegrationPoint } from '../../src/model/config.js';
import { mulberry32 } from '../../src/util/random.js';

const DIR = fileURLToPath(new URL('../fixtures/golden/tiny-a/', import.meta.url));
const tiny = JSON.parse(readFileSync(DIR + 'checkpoint/config.json', 'utf8')).vision_config as {
  window_size: number; patch_size: number; spatial_merge_size: number;
};
const TINY = { windowSize: tiny.window_size, patchSize: tiny.patch_size, mergeSize: tiny.spatial_merge_size };
const REAL = { windowSize: 112, patchSize: 14, mergeSize: 2 }; // Qwen2.5-VL-7B vision_config

const gold: Record<string, SafetensorsF64> = {};
beforeAll(async () => {
  for (const s of ['a_vision', 'b_reencode']) gold[s] = await readSafetensorsF64(`${DIR}${s}.safetensors`);
});
const ints = (s: string, n: string): number[] => gold[s]!.ints.get(n)!.data;
const grids3 = (flat: number[]): GridThw[] =>
  Array.from({ length: flat.length / 3 }, (_, i) => [flat[3 * i]!, flat[3 * i + 1]!, flat[3 * i + 2]!] as const);
const diffs = (cu: ArrayLike<number>): number[] => Array.from(cu).slice(1).map((v, i) => v - cu[i]!);

/** Every integer table of golden scenario `sc` equals the plan's. */
function expectGoldenTables(p: VisionPlan, sc: string): void {
  expect(Array.from(p.posIds)).toEqual(ints(sc, 'pos_ids'));
  expect(Array.from(p.windowIndex)).toEqual(ints(sc, 'window_index'));
  expect(Array.from(p.cuWindowSeqlens)).toEqual(ints(sc, 'cu_window_seqlens'));
  expect(Array.from(p.cuSeqlens)).toEqual(ints(sc, 'cu_seqlens'));
  expect(Array.from(p.cuSeqlensQ)).toEqual(ints(sc, 'cu_seqlens_q'));
  expect(Array.from(p.cuSeqlensK)).toEqual(ints(sc, 'cu_seqlens_k'));
  expect(Array.from(p.inquiryPosPadded!)).toEqual(ints(sc, 'inquiry_pos_ids'));
}

describe('planVisionCall vs golden tiny-a', () => {
  it('a_vision: one image, no inquiry (padded length 1)', () => {
    const p = planVisionCall({ grids: grids3(ints('a_vision', 'grid_thw')), imageGroup: [0], groupTextTokens: [0],
      paddedTextLen: 1, ...TINY });
    expectGoldenTables(p, 'a_vision');
    expect(p.inquiryPos.map((a) => a.length)).toEqual([0]);
    expect(p.numMerged).toBe(12);
  });

  it('b_reencode: two regions in one group with a 5-token inquiry', () => {
    const p = planVisionCall({ grids: grids3(ints('b_reencode', 'grid_thw')),
      imageGroup: ints('b_reencode', 'image_to_query_mapping'), groupTextTokens: [5], paddedTextLen: 5, ...TINY });
    expectGoldenTables(p, 'b_reencode');
    // All 5 slots are valid (right padding): positions S + 0..4.
    expect(Array.from(p.inquiryPos[0]!)).toEqual(ints('b_reencode', 'inquiry_pos_ids'));
    expect(Array.from(p.textKeyStart)).toEqual([48]);
  });
});

describe('planVisionCall vs MODEL.md §8 worked examples', () => {
  it('§8.1: one 1288x980 image -> 108 windows', () => {
    const p = planVisionCall({ grids: [[1, 70, 92]], imageGroup: [0], groupTextTokens: [0], ...REAL });
    expect(p.numPatches).toBe(6440);
    expect(p.numMerged).toBe(1610);
    expect(p.cuWindowSeqlens.length).toBe(109);
    const sizes = diffs(p.cuWindowSeqlens);
    const count = (n: number): number => sizes.filter((s) => s === n).length;
    expect([count(64), count(32), count(48), count(24)]).toEqual([88, 8, 11, 1]);
    expect(Array.from(p.cuWindowSeqlens.slice(0, 3))).toEqual([0, 64, 128]);
    expect(Array.from(p.cuWindowSeqlens.slice(11, 14))).toEqual([704, 736, 800]);
    for (let band = 0; band <= 8; band++) expect(p.cuWindowSeqlens[12 * band]).toBe(736 * band);
    expect(p.cuWindowSeqlens[108]).toBe(6440);
    expect(Array.from(p.windowIndex.slice(0, 18))).toEqual(
      [0, 1, 2, 3, 46, 47, 48, 49, 92, 93, 94, 95, 138, 139, 140, 141, 4, 5]);
    expect(Array.from(p.cuSeqlens)).toEqual([0, 6440]);
    expect(Array.from(p.cuSeqlensQ)).toEqual([0, 6440]);
    expect(Array.from(p.cuSeqlensK)).toEqual([0, 6440]);
    expect(Array.from(p.groupTextPosStart)).toEqual([92]);
    const rowsUsed = new Set<number>();
    const colsUsed = new Set<number>();
    for (let i = 0; i < p.numPatches; i++) { rowsUsed.add(p.posIds[2 * i]!); colsUsed.add(p.posIds[2 * i + 1]!); }
    expect([Math.min(...rowsUsed), Math.max(...rowsUsed), rowsUsed.size]).toEqual([0, 69, 70]);
    expect([Math.min(...colsUsed), Math.max(...colsUsed), colsUsed.size]).toEqual([0, 91, 92]);
  });

  it('§8.2: incremental call with two crops and a 12-token inquiry', () => {
    const p = planVisionCall({ grids: [[1, 30, 40], [1, 22, 28]], imageGroup: [0, 0], groupTextTokens: [12], ...REAL });
    const range = (from: number, to: number, axis: number): number[] => {
      const s = new Set<number>();
      for (let i = from; i < to; i++) s.add(p.posIds[2 * i + axis]!);
      return [Math.min(...s), Math.max(...s), s.size];
    };
    expect([range(0, 1200, 0), range(0, 1200, 1)]).toEqual([[0, 29, 30], [0, 39, 40]]);
    expect([range(1200, 1816, 0), range(1200, 1816, 1)]).toEqual([[40, 61, 22], [40, 67, 28]]);
    expect(Array.from(p.groupTextPosStart)).toEqual([68]);
    expect(Array.from(p.inquiryPos[0]!)).toEqual(Array.from({ length: 12 }, (_, j) => 68 + j));
    expect(Array.from(p.cuSeqlens)).toEqual([0, 1200, 1816]);
    expect(p.cuWindowSeqlens.length).toBe(33);
    expect(p.cuWindowSeqlens[32]).toBe(1816);
    expect(Array.from(p.cuSeqlensQ)).toEqual([0, 1816]);
    expect(Array.from(p.cuSeqlensK)).toEqual([0, 1828]);
    expect(p.numMerged).toBe(454);
    expect(p.maxPosition).toBe(80);
  });

  it('§8.2: full recompute with all four images', () => {
    const p = planVisionCall({ grids: [[1, 70, 92], [1, 70, 92], [1, 30, 40], [1, 22, 28]],
      imageGroup: [0, 1, 2, 2], groupTextTokens: [0, 0, 12], ...REAL });
    expect(p.numPatches).toBe(14696);
    expect(Array.from(p.cuSeqlens)).toEqual([0, 6440, 12880, 14080, 14696]);
    expect(Array.from(p.cuSeqlensQ)).toEqual([0, 6440, 12880, 14696]);
    expect(Array.from(p.cuSeqlensK)).toEqual([0, 6440, 12880, 14708]);
    expect(p.cuWindowSeqlens.length).toBe(249);
    // The crops' tables equal the incremental call's, shifted by the originals.
    const inc = planVisionCall({ grids: [[1, 30, 40], [1, 22, 28]], imageGroup: [0, 0], groupTextTokens: [12], ...REAL });
    expect(Array.from(p.posIds.slice(2 * 12880))).toEqual(Array.from(inc.posIds));
    expect(Array.from(p.windowIndex.slice(3220))).toEqual(Array.from(inc.windowIndex, (m) => m + 3220));
    expect(Array.from(p.inquiryPos[2]!)).toEqual(Array.from(inc.inquiryPos[0]!));
  });
});

describe('planVisionCall vs the literal translation of the authors\' code (random calls)', () => {
  it('matches every table on 150 random calls', () => {
    const r = mulberry32(12345);
    const int = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
    for (let trial = 0; trial < 150; trial++) {
      const geom = r() < 0.5 ? REAL : TINY;
      const M = int(1, 5);
      const grids: GridThw[] = [];
      const groups: number[] = [];
      for (let k = 0; k < M; k++) {
        grids.push([1, 2 * int(1, 20), 2 * int(1, 20)]);
        groups.push(k === 0 ? 0 : groups[k - 1]! + (r() < 0.5 ? 1 : 0));
      }
      const G = groups[M - 1]! + 1;
      const T = int(1, 12);
      const n = Array.from({ length: G }, () => int(0, T));
      const input: VisionCallInput = { grids, imageGroup: groups, groupTextTokens: n, paddedTextLen: T, ...geom };
      const p = planVisionCall(input);
      const ref = refVisionIndexing(grids, groups, n, geom.windowSize, geom.patchSize, geom.mergeSize);
      const where = JSON.stringify(input);
      expect(Array.from(p.posIds), where).toEqual(ref.posIds);
      expect(Array.from(p.windowIndex), where).toEqual(ref.windowIndex);
      expect(Array.from(p.cuWindowSeqlens), where).toEqual(ref.cuWindowSeqlens);
      expect(Array.from(p.cuSeqlens), where).toEqual(ref.cuSeqlens);
      expect(Array.from(p.cuSeqlensQ), where).toEqual(ref.cuSeqlensQ);
      expect(Array.from(p.cuSeqlensK), where).toEqual(ref.cuSeqlensK);
      expect(Array.from(p.groupTextPosStart), where).toEqual(ref.groupMaxPos);
      // Derived tables.
      const unit = p.mergeUnit;
      expect(Array.from(p.reverseIndex).map((i) => p.windowIndex[i])).toEqual(Array.from({ length: p.numMerged }, (_, i) => i));
      const gathered = new Int32Array(2 * p.numPatches);
      const groupByImage = new Int32Array(p.numPatches);
      for (let i = 0; i < p.numPatches; i++) {
        const src = p.windowIndex[Math.floor(i / unit)]! * unit + (i % unit);
        gathered[2 * i] = p.posIds[2 * src]!;
        gathered[2 * i + 1] = p.posIds[2 * src + 1]!;
        groupByImage[i] = groups[p.imageOfToken[i]!]!;
      }
      expect(p.posIdsWindowOrder).toEqual(gathered);
      expect(p.groupOfToken).toEqual(groupByImage);
      for (let g = 0; g < G; g++) {
        expect(p.textKeyStart[g]).toBe(p.cuSeqlensK[g + 1]! - n[g]!);
        expect(Array.from(p.inquiryPos[g]!)).toEqual(Array.from({ length: n[g]! }, (_, j) => ref.groupMaxPos[g]! + j));
      }
      const maxImage = Math.max(...p.posIds) + 1;
      expect(p.maxPosition).toBe(Math.max(maxImage, ...ref.groupMaxPos.map((S) => S + T)));
    }
  });
});

describe('planVisionCall input checks', () => {
  const base: VisionCallInput = { grids: [[1, 4, 4], [1, 4, 6]], imageGroup: [0, 0], groupTextTokens: [0], ...REAL };
  it.each([
    ['no images', { grids: [], imageGroup: [], groupTextTokens: [] }],
    ['groups not starting at 0', { imageGroup: [1, 1], groupTextTokens: [0, 0] }],
    ['group gap', { imageGroup: [0, 2], groupTextTokens: [0, 0, 0] }],
    ['decreasing groups', { grids: [[1, 4, 4], [1, 4, 6], [1, 2, 2]], imageGroup: [0, 1, 0], groupTextTokens: [0, 0] }],
    ['mapping length', { imageGroup: [0] }],
    ['text token count per group', { groupTextTokens: [0, 0] }],
    ['negative text tokens', { groupTextTokens: [-1] }],
    ['more tokens than padded length', { groupTextTokens: [6], paddedTextLen: 5 }],
    ['odd grid', { grids: [[1, 4, 4], [1, 5, 6]] }],
    ['zero grid', { grids: [[1, 0, 4], [1, 4, 6]] }],
    ['window smaller than a merged unit', { windowSize: 20 }],
  ] as [string, Partial<VisionCallInput>][])('rejects %s', (_, change) => {
    expect(() => planVisionCall({ ...base, ...change })).toThrow(VisionPlanError);
  });
});

describe('invertPermutation and block schedule', () => {
  it('inverts permutations and rejects others', () => {
    expect(Array.from(invertPermutation([2, 0, 3, 1]))).toEqual([1, 3, 0, 2]);
    expect(() => invertPermutation([0, 0, 1])).toThrow(VisionPlanError);
    expect(() => invertPermutation([0, 3, 1])).toThrow(VisionPlanError);
  });

  it('schedules QA first, then per-image full, else window (MODEL.md §3.1)', () => {
    const schedule = (depth: number, point: IntegrationPoint, fullattBlocks: number[]) =>
      visionBlockSchedule({ depth, fullattBlocks, qaBlocks: qaBlocksFor(point, depth, fullattBlocks) });
    const real = schedule(32, 'late', [7, 15]);
    const expected = Array.from({ length: 32 }, (_, i) => (i >= 16 ? 'qa' : i === 7 || i === 15 ? 'full' : 'window'));
    expect(real).toEqual(expected);
    expect(schedule(32, 'late', [7, 15, 23, 31])).toEqual(expected);
    expect(schedule(4, 'late', [1, 3])).toEqual(['window', 'full', 'qa', 'qa']);
    expect(schedule(4, 'none', [1, 3])).toEqual(['window', 'full', 'window', 'full']);
    expect(schedule(8, 'sparse', [1, 3])).toEqual(
      ['window', 'qa', 'window', 'qa', 'window', 'window', 'window', 'window']);
  });
});
