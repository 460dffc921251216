// The float64 reference (test/reference) against every scenario of the independent golden tiny-a.
//
// Tolerance: the golden oracle computes in float64 and stores F32, so an exact float64 implementation differs from
// each stored value by at most half an f32 ulp plus the float64 disagreement between the two implementations
// (rounding order, ~1e-13 relative). `expectGolden` therefore asserts |x - g| <= ulp32(g)/2 + 1e-9·max|g| for every
// element; the README's "semantic mistake" deltas are >= 1.67e-4, and even the f32 engine drift is ~4e-7.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  readSafetensorsF64, refConfigFromJson, refErf, refErfc, refGelu, refGreedy, refLlmForward, refMropeTable, refRopeIndex,
  refRopeTable2d, refSilu, refTextEncoder, refTextProj, refVisionForward, type RefConfig, type RefInquiry,
  type RefWeights, type SafetensorsF64,
} from '../reference/reference.js';
import { diffAgainstF32, relDiff } from '../reference/compare.js';

const DIR = fileURLToPath(new URL('../fixtures/golden/tiny-a', import.meta.url));
const TOL = 1e-9;

let weights: RefWeights;
let config: RefConfig;
const scen: Record<string, SafetensorsF64> = {};
const measured: string[] = [];

beforeAll(async () => {
  config = refConfigFromJson(JSON.parse(readFileSync(join(DIR, 'checkpoint/config.json'), 'utf8')));
  weights = (await readSafetensorsF64(join(DIR, 'checkpoint/model.safetensors'))).floats;
  for (const s of ['a_vision', 'b_reencode', 'c_text_encoder', 'd_prefill', 'e_second_turn', 'f_greedy',
    'g_inquiry_padding', 'h_ops']) {
    scen[s] = await readSafetensorsF64(join(DIR, `${s}.safetensors`));
  }
});

afterAll(() => {
  console.log('reference vs golden (maxRel = max|x-g|/max|g|, excess = beyond half an f32 ulp, / max|g|):\n' +
    measured.join('\n'));
});

function f(s: string, name: string): Float64Array {
  const t = scen[s]!.floats.tensors.get(name);
  if (!t) throw new Error(`${s}.${name} missing`);
  return t;
}
function ints(s: string, name: string): number[] {
  const t = scen[s]!.ints.get(name);
  if (!t) throw new Error(`${s}.${name} missing`);
  return t.data;
}
function rows(flat: number[], width: number): number[][] {
  return Array.from({ length: flat.length / width }, (_, i) => flat.slice(i * width, (i + 1) * width));
}

/**
 * The golden oracle ran on float64 pixel values and stored them as F32. Recover the float64 values from the
 * uint8 pixels: every element must be fround((u8·rescale - mean[ch]) / std[ch]) for exactly one u8 (consecutive
 * u8 levels are ~0.015 apart, far more than an f32 ulp), which also checks the golden's normalization.
 */
function pixelsF64(px32: Float64Array): Float64Array {
  const pre = JSON.parse(readFileSync(join(DIR, 'checkpoint/preprocessor_config.json'), 'utf8')) as {
    image_mean: number[]; image_std: number[]; rescale_factor: number; patch_size: number; temporal_patch_size: number;
  };
  const perChannel = pre.temporal_patch_size * pre.patch_size * pre.patch_size;
  const width = 3 * perChannel;
  const levels = [0, 1, 2].map((ch) => Array.from({ length: 256 },
    (_, u) => (u * pre.rescale_factor - pre.image_mean[ch]!) / pre.image_std[ch]!));
  const lookup = levels.map((lv) => new Map(lv.map((v) => [Math.fround(v), v])));
  return px32.map((v, i) => {
    const ch = Math.floor((i % width) / perChannel);
    const exact = lookup[ch]!.get(v);
    if (exact === undefined) throw new Error(`pixel value ${v} (element ${i}) is no normalized uint8 of channel ${ch}`);
    return exact;
  });
}

let aFeatures: Float64Array | undefined;
/** Our float64 a_vision features: the golden fed its float64 features (stored F32 as image_features) to the LLM. */
function ourImageFeatures(): Float64Array {
  aFeatures ??= refVisionForward(weights, config, pixelsF64(f('a_vision', 'pixel_values')),
    rows(ints('a_vision', 'grid_thw'), 3), [0], [null]).features;
  return aFeatures;
}

function expectGolden(label: string, actual: ArrayLike<number>, golden: ArrayLike<number>): void {
  const d = diffAgainstF32(actual, golden);
  measured.push(`  ${label.padEnd(44)} maxRel ${d.maxRel.toExponential(2)}  excess ${d.excess.toExponential(2)}`);
  expect(d.excess, `${label}: maxRel ${d.maxRel}`).toBeLessThanOrEqual(TOL);
}

/** Text encoder + text_proj of one (ids, mask) row -> the inquiry a QA group receives. */
function inquiryOf(ids: number[], mask: number[]): { inquiry: RefInquiry; last: Float64Array } {
  const te = refTextEncoder(weights, config, ids, mask);
  return { inquiry: { embeds: refTextProj(weights, config, te.lastHiddenState, ids.length), mask }, last: te.lastHiddenState };
}

function checkVision(s: string, res: ReturnType<typeof refVisionForward>, paddedT: number): void {
  const ix = res.indexing;
  expect(ix.posIds).toEqual(ints(s, 'pos_ids'));
  expect(ix.windowIndex).toEqual(ints(s, 'window_index'));
  expect(ix.cuWindowSeqlens).toEqual(ints(s, 'cu_window_seqlens'));
  expect(ix.cuSeqlens).toEqual(ints(s, 'cu_seqlens'));
  expect(ix.cuSeqlensQ).toEqual(ints(s, 'cu_seqlens_q'));
  expect(ix.cuSeqlensK).toEqual(ints(s, 'cu_seqlens_k'));
  expect(ix.groupMaxPos.flatMap((S) => Array.from({ length: paddedT }, (_, j) => S + j))).toEqual(ints(s, 'inquiry_pos_ids'));
  expectGolden(`${s}.patch_embed`, res.patchEmbed, f(s, 'patch_embed'));
  res.blocks.forEach((b, i) => expectGolden(`${s}.block${i}`, b, f(s, `block${i}`)));
  expect(res.blocks.length).toBe(4);
  expectGolden(`${s}.merged_window_order`, res.mergedWindowOrder, f(s, 'merged_window_order'));
  expectGolden(`${s}.features`, res.features, f(s, 'features'));
}

describe('reference vs golden tiny-a', () => {
  it('a_vision: original image, no inquiry', () => {
    const grids = rows(ints('a_vision', 'grid_thw'), 3);
    const res = refVisionForward(weights, config, pixelsF64(f('a_vision', 'pixel_values')), grids, [0], [null]);
    checkVision('a_vision', res, 1);
  });

  it('c_text_encoder: Qwen3 layers, final norm, text_proj', () => {
    const ids = ints('c_text_encoder', 'query_ids');
    const mask = ints('c_text_encoder', 'query_mask');
    const te = refTextEncoder(weights, config, ids, mask);
    expectGolden('c.layer0', te.layers[0]!, f('c_text_encoder', 'layer0'));
    expectGolden('c.layer1', te.layers[1]!, f('c_text_encoder', 'layer1'));
    expectGolden('c.last_hidden_state', te.lastHiddenState, f('c_text_encoder', 'last_hidden_state'));
    expectGolden('c.inquiry_embeds', refTextProj(weights, config, te.lastHiddenState, ids.length),
      f('c_text_encoder', 'inquiry_embeds'));
  });

  it('b_reencode: two regions jointly with one inquiry', () => {
    const { inquiry } = inquiryOf(ints('b_reencode', 'query_ids'), ints('b_reencode', 'query_mask'));
    expectGolden('b.inquiry_embeds', inquiry.embeds, f('b_reencode', 'inquiry_embeds'));
    const grids = rows(ints('b_reencode', 'grid_thw'), 3);
    const res = refVisionForward(weights, config, pixelsF64(f('b_reencode', 'pixel_values')), grids,
      ints('b_reencode', 'image_to_query_mapping'), [inquiry]);
    checkVision('b_reencode', res, 5);
  });

  it('d_prefill: M-RoPE index, embeddings scatter, layers, logits', () => {
    const ids = ints('d_prefill', 'input_ids');
    const grids = rows(ints('d_prefill', 'image_grid_thw'), 3);
    const { positions, ropeDeltas } = refRopeIndex(ids, grids, config.vision.mergeSize, config.llm.imageTokenId,
      config.llm.visionStartTokenId);
    expect(Array.from(positions)).toEqual(ints('d_prefill', 'position_ids'));
    expect(ropeDeltas).toBe(ints('d_prefill', 'rope_deltas')[0]);
    // The golden's image_features input is a_vision.features.
    expect(relDiff(f('d_prefill', 'image_features'), f('a_vision', 'features'))).toBe(0);
    const res = refLlmForward(weights, config, ids, ourImageFeatures(), positions);
    expectGolden('d.inputs_embeds', res.inputsEmbeds, f('d_prefill', 'inputs_embeds'));
    expectGolden('d.layer0', res.layers[0]!, f('d_prefill', 'layer0'));
    expectGolden('d.layer1', res.layers[1]!, f('d_prefill', 'layer1'));
    expectGolden('d.logits', res.logits, f('d_prefill', 'logits'));
  });

  it('e_second_turn: turn-2 vision call, positions, incremental = full logits', () => {
    const s = 'e_second_turn';
    const qIds = rows(ints(s, 'vision_query_ids'), 5);
    const qMask = rows(ints(s, 'vision_query_mask'), 5);
    const inquiries = qIds.map((ids, g) => inquiryOf(ids, qMask[g]!).inquiry);
    const vgrids = [rows(ints('a_vision', 'grid_thw'), 3)[0]!, ...rows(ints('b_reencode', 'grid_thw'), 3)];
    const vis = refVisionForward(weights, config, pixelsF64(f(s, 'vision_pixel_values')), vgrids,
      ints(s, 'vision_image_to_query_mapping'), inquiries);
    expectGolden('e.vision_features', vis.features, f(s, 'vision_features'));

    const prefix = ints(s, 'prefix_ids');
    const newIds = ints(s, 'new_ids');
    const all = ints(s, 'input_ids');
    expect([...prefix, ...newIds]).toEqual(all);
    const grids = rows(ints(s, 'image_grid_thw'), 3);
    const full = refRopeIndex(all, grids, config.vision.mergeSize, config.llm.imageTokenId, config.llm.visionStartTokenId);
    expect(Array.from(full.positions)).toEqual(ints(s, 'position_ids'));
    expect(full.ropeDeltas).toBe(ints(s, 'rope_deltas')[0]);
    const Lp = prefix.length;
    const Ln = newIds.length;
    const newPos = [0, 1, 2].flatMap((a) => Array.from(full.positions.subarray(a * (Lp + Ln) + Lp, (a + 1) * (Lp + Ln))));
    expect(newPos).toEqual(ints(s, 'new_position_ids'));
    const prefPos = [0, 1, 2].flatMap((a) => Array.from(full.positions.subarray(a * (Lp + Ln), a * (Lp + Ln) + Lp)));

    const H = config.llm.hiddenSize;
    const feats = vis.features;
    const nPrefixPad = prefix.filter((t) => t === config.llm.imageTokenId).length;
    const pre = refLlmForward(weights, config, prefix, feats.slice(0, nPrefixPad * H), prefPos);
    const inc = refLlmForward(weights, config, newIds, feats.slice(nPrefixPad * H), newPos, pre.cache);
    const fullRes = refLlmForward(weights, config, all, feats, full.positions);
    expectGolden('e.logits_incremental', inc.logits, f(s, 'logits_incremental'));
    expectGolden('e.logits_full', fullRes.logits, f(s, 'logits_full'));
    const V = config.llm.vocabSize;
    const incVsFull = relDiff(inc.logits, fullRes.logits.subarray(Lp * V));
    measured.push(`  e: own incremental vs own full logits          rel ${incVsFull.toExponential(2)}`);
    expect(incVsFull).toBeLessThan(1e-12);
  });

  it('f_greedy: greedy ids, step logits, positions, margins', () => {
    const s = 'f_greedy';
    const prompt = ints(s, 'prompt_ids');
    expect(prompt).toEqual(ints('d_prefill', 'input_ids'));
    const g = refGreedy(weights, config, prompt, ourImageFeatures(),
      rows(ints('d_prefill', 'image_grid_thw'), 3), 8);
    expect(g.ids).toEqual(ints(s, 'generated_ids'));
    expect(g.stepPositions).toEqual(ints(s, 'step_positions'));
    expectGolden('f.step_logits', g.stepLogits, f(s, 'step_logits'));
    expectGolden('f.top2_margin', g.top2Margin, f(s, 'top2_margin'));
  });

  it('g_inquiry_padding: left and right padded inquiries', () => {
    const s = 'g_inquiry_padding';
    const grids = rows(ints('b_reencode', 'grid_thw'), 3);
    const px = pixelsF64(f('b_reencode', 'pixel_values'));
    const map = ints('b_reencode', 'image_to_query_mapping');
    for (const side of ['left', 'right'] as const) {
      const { inquiry, last } = inquiryOf(ints(s, `${side}_ids`), ints(s, `${side}_mask`));
      expectGolden(`g.${side}_last_hidden_state`, last, f(s, `${side}_last_hidden_state`));
      const res = refVisionForward(weights, config, px, grids, map, [inquiry]);
      expectGolden(`g.${side}_features`, res.features, f(s, `${side}_features`));
    }
    // Right padding leaves the features unchanged, left padding does not (golden params: 0.0536 max abs).
    expect(relDiff(f(s, 'right_features'), f('b_reencode', 'features'))).toBeLessThan(1e-6);
    expect(relDiff(f(s, 'left_features'), f('b_reencode', 'features'))).toBeGreaterThan(1e-3);
  });

  it('h_ops: exact-erf GELU, SiLU, vision RoPE and M-RoPE tables', () => {
    const s = 'h_ops';
    // The golden grid is -8 + 0.01·i in float64, stored F32; recover it (checked element by element).
    const x = f(s, 'x').map((v, i) => {
      const x64 = -8 + 0.01 * i;
      if (Math.fround(x64) !== v) throw new Error(`h_ops.x[${i}] = ${v} is not -8 + 0.01·${i}`);
      return x64;
    });
    expectGolden('h.gelu_erf', refGelu(x), f(s, 'gelu_erf'));
    expectGolden('h.silu', refSilu(x), f(s, 'silu'));
    const hdv = config.vision.hiddenSize / config.vision.numHeads;
    const vt = refRopeTable2d(ints(s, 'vision_rope_pos'), hdv, config.vision.ropeTheta);
    expectGolden('h.vision_rope_cos', vt.cos, f(s, 'vision_rope_cos'));
    expectGolden('h.vision_rope_sin', vt.sin, f(s, 'vision_rope_sin'));
    const mt = refMropeTable(ints(s, 'mrope_pos'), config.llm.headDim, config.llm.ropeTheta, config.llm.mropeSection);
    expectGolden('h.mrope_cos', mt.cos, f(s, 'mrope_cos'));
    expectGolden('h.mrope_sin', mt.sin, f(s, 'mrope_sin'));
  });
});

describe('float64 erf used by the exact GELU', () => {
  // [x, erf(x), erfc(x)] from CPython's math.erf / math.erfc (libm-quality, independent of this code).
  const table: [number, number, number][] = [
    [-6.0, -1.0, 2.0],
    [-3.0, -0.9999779095030014, 1.9999779095030015],
    [-2.0, -0.9953222650189527, 1.9953222650189528],
    [-1.999, -0.9953015566513705, 1.9953015566513705],
    [-0.5, -0.5204998778130465, 1.5204998778130465],
    [0.001, 0.0011283787909692365, 0.9988716212090307],
    [0.3, 0.3286267594591274, 0.6713732405408726],
    [1.0, 0.8427007929497149, 0.15729920705028513],
    [1.9, 0.9927904292352575, 0.0072095707647425325],
    [2.0, 0.9953222650189527, 0.004677734981047265],
    [2.5, 0.999593047982555, 0.0004069520174449589],
    [4.0, 0.9999999845827421, 1.541725790028002e-8],
    [5.5, 0.9999999999999927, 7.357847917974398e-15],
  ];
  it.each(table)('erf(%d)', (x, erf, erfc) => {
    expect(Math.abs(refErf(x) - erf)).toBeLessThanOrEqual(5e-16); // a few ulp of values up to 1
    expect(Math.abs(refErfc(x) - erfc) / erfc).toBeLessThanOrEqual(5e-15); // relative, even where erfc is tiny
  });
});
