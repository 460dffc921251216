import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { mergedGridOf, MropeError, MropePositions, type MergedGrid } from '../../src/model/mrope.js';
import { readSafetensorsF64, refRopeIndex, type SafetensorsF64 } from '../reference/reference.js';

const DIR = fileURLToPath(new URL('../fixtures/golden/tiny-a/', import.meta.url));
const cfg = JSON.parse(readFileSync(DIR + 'checkpoint/config.json', 'utf8')) as {
  image_token_id: number; vision_start_token_id: number; vision_end_token_id: number;
  vision_config: { spatial_merge_size: number };
};
const PAD = cfg.image_token_id; // 312
const VS = cfg.vision_start_token_id; // 309
const VE = cfg.vision_end_token_id;
const MERGE = cfg.vision_config.spatial_merge_size;
const ids = { imagePad: PAD, visionStart: VS };

const gold: Record<string, SafetensorsF64> = {};
beforeAll(async () => {
  for (const s of ['d_prefill', 'e_second_turn', 'f_greedy']) gold[s] = await readSafetensorsF64(`${DIR}${s}.safetensors`);
});
const ints = (s: string, n: string): number[] => gold[s]!.ints.get(n)!.data;
const mergedGrids = (flat: number[]): MergedGrid[] =>
  Array.from({ length: flat.length / 3 }, (_, i) => mergedGridOf([flat[3 * i]!, flat[3 * i + 1]!, flat[3 * i + 2]!], MERGE));

/** Concatenates [3, L_i] chunks into [3, sum L_i]. */
function concat3(chunks: Int32Array[]): number[] {
  const rows: number[][] = [[], [], []];
  for (const c of chunks) {
    const L = c.length / 3;
    for (let a = 0; a < 3; a++) rows[a]!.push(...c.subarray(a * L, (a + 1) * L));
  }
  return rows.flat();
}

describe('MropePositions vs golden tiny-a', () => {
  it('d_prefill: whole prompt in one chunk', () => {
    const m = new MropePositions(ids);
    const pos = m.append(ints('d_prefill', 'input_ids'), mergedGrids(ints('d_prefill', 'image_grid_thw')));
    expect(Array.from(pos)).toEqual(ints('d_prefill', 'position_ids'));
    expect(m.ropeDeltas).toBe(ints('d_prefill', 'rope_deltas')[0]);
    expect(m.imageBlocks).toBe(1);
    expect(m.pendingGrids).toBe(0);
  });

  it('e_second_turn: cached prefix, then the appended turn with two new image blocks', () => {
    const grids = mergedGrids(ints('e_second_turn', 'image_grid_thw'));
    const m = new MropePositions(ids);
    const first = m.append(ints('e_second_turn', 'prefix_ids'), grids.slice(0, 1));
    const second = m.append(ints('e_second_turn', 'new_ids'), grids.slice(1));
    expect(Array.from(second)).toEqual(ints('e_second_turn', 'new_position_ids'));
    expect(concat3([first, second])).toEqual(ints('e_second_turn', 'position_ids'));
    expect(m.ropeDeltas).toBe(ints('e_second_turn', 'rope_deltas')[0]);
    expect(m.length).toBe(70);
  });

  it('e_second_turn: any chunking (block boundaries included) gives the same positions', () => {
    const all = ints('e_second_turn', 'input_ids');
    const grids = mergedGrids(ints('e_second_turn', 'image_grid_thw'));
    for (const size of [1, 2, 3, 5, 7, 11, 13]) {
      const m = new MropePositions(ids);
      const chunks: Int32Array[] = [];
      for (let i = 0; i < all.length; i += size) chunks.push(m.append(all.slice(i, i + size), i === 0 ? grids : []));
      expect(concat3(chunks), `chunk size ${size}`).toEqual(ints('e_second_turn', 'position_ids'));
    }
  });

  it('f_greedy: decode positions continue p (cache_position + rope_deltas)', () => {
    const prompt = ints('f_greedy', 'prompt_ids');
    const m = new MropePositions(ids);
    m.append(prompt, mergedGrids(ints('d_prefill', 'image_grid_thw')));
    const steps = ints('f_greedy', 'step_positions');
    expect(steps.map((_, i) => m.decodePosition(prompt.length + i))).toEqual(steps);
    // Feeding the generated tokens back as text gives the same positions on all three axes.
    const fed = ints('f_greedy', 'generated_ids').map((t) => Array.from(m.append([t])));
    expect(fed).toEqual(steps.map((p) => [p, p, p]));
  });
});

describe('MropePositions vs the literal get_rope_index (random sequences)', () => {
  it('matches on 200 random prompts fed in random chunks', () => {
    let seed = 99;
    const r = (): number => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296);
    const int = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
    for (let trial = 0; trial < 200; trial++) {
      const seq: number[] = [];
      const gridsThw: number[][] = [];
      const blocks = int(0, 4);
      for (let b = 0; b < blocks; b++) {
        for (let t = int(0, 6); t > 0; t--) seq.push(int(0, 299));
        const g = [1, 2 * int(1, 8), 2 * int(1, 8)];
        gridsThw.push(g);
        seq.push(VS, ...Array<number>((g[1]! / 2) * (g[2]! / 2)).fill(PAD), VE);
      }
      for (let t = int(0, 6); t > 0; t--) seq.push(int(0, 299));
      const ref = refRopeIndex(seq, gridsThw, MERGE, PAD, VS);
      const m = new MropePositions(ids);
      const chunks: Int32Array[] = [];
      let i = 0;
      let gridsGiven = 0;
      while (i < seq.length) {
        const n = int(1, 9);
        const chunk = seq.slice(i, i + n);
        // Give each grid with the chunk in which its block starts.
        const starts = chunk.filter((t, j) => t === PAD && (i + j === 0 || seq[i + j - 1] === VS)).length;
        const grids = gridsThw.slice(gridsGiven, gridsGiven + starts).map((g) => mergedGridOf([g[0]!, g[1]!, g[2]!], MERGE));
        gridsGiven += starts;
        chunks.push(m.append(chunk, grids));
        i += n;
      }
      expect(concat3(chunks), JSON.stringify(seq)).toEqual(Array.from(ref.positions));
      expect(m.ropeDeltas).toBe(ref.ropeDeltas);
    }
  });

  it('MODEL.md §8.1: a 35x46 block moves p by 46 (rope_deltas -1564)', () => {
    const m = new MropePositions({ imagePad: 151655, visionStart: 151652 });
    const pos = m.append([151652, ...Array<number>(1610).fill(151655), 151653], [mergedGridOf([1, 70, 92], 2)]);
    const L = 1612;
    expect([pos[1], pos[L + 1], pos[2 * L + 1]]).toEqual([1, 1, 1]); // first pad: (p, p, p), p = 1
    expect([pos[1610], pos[L + 1610], pos[2 * L + 1610]]).toEqual([1, 35, 46]); // last pad (34, 45): (1, 1+34, 1+45)
    expect(pos[L - 1]).toBe(47); // <|vision_end|> continues at p + 46
    expect(m.ropeDeltas).toBe(46 - 1610);
  });
});

describe('MropePositions input checks', () => {
  it('rejects an image pad not preceded by <|vision_start|>', () => {
    expect(() => new MropePositions(ids).append([1, PAD], [[1, 1]])).toThrow(MropeError);
  });

  it('rejects a block without grid and an interrupted block, keeping the previous state', () => {
    const m = new MropePositions(ids);
    m.append([5, 6, VS]);
    expect(() => m.append([PAD, PAD])).toThrow(MropeError); // no grid queued
    expect(() => m.append([PAD, PAD, 7], [[2, 2]])).toThrow(MropeError); // 4 pads expected
    expect(m.length).toBe(3);
    expect(m.pendingGrids).toBe(0);
    expect(m.nextPosition).toBe(3);
    const pos = m.append([PAD, PAD, PAD, PAD, VE], [[2, 2]]);
    expect(Array.from(pos)).toEqual([3, 3, 3, 3, 5, 3, 3, 4, 4, 5, 3, 4, 3, 4, 5]);
  });

  it('has no next position or rope_deltas inside a block', () => {
    const m = new MropePositions(ids);
    m.append([VS, PAD], [[1, 2]]);
    expect(m.insideImageBlock).toBe(true);
    expect(() => m.ropeDeltas).toThrow(MropeError);
    expect(() => m.decodePosition(2)).toThrow(MropeError);
    m.append([PAD]);
    expect(m.ropeDeltas).toBe(3 - 3);
    expect(() => m.decodePosition(1)).toThrow(MropeError);
  });

  it('mergedGridOf checks its input', () => {
    expect(mergedGridOf([1, 6, 8], 2)).toEqual([3, 4]);
    expect(() => mergedGridOf([2, 6, 8], 2)).toThrow(MropeError);
    expect(() => mergedGridOf([1, 5, 8], 2)).toThrow(MropeError);
    expect(() => new MropePositions({ imagePad: 1, visionStart: 1 })).toThrow(MropeError);
    expect(() => new MropePositions(ids).append([1], [[0, 3]])).toThrow(MropeError);
  });
});
