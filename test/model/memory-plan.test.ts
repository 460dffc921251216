import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../../src/model/config.js';
import { evalFormula, resolveManifest } from '../../src/model/manifest.js';
import { bindingParts, formatMemoryPlan, planMemory } from '../../src/model/memory-plan.js';
import { numel } from '../../src/model/safetensors.js';

const config7b = parseModelConfig(JSON.parse(readFileSync(new URL('../fixtures/vilavt-7b/config.json', import.meta.url), 'utf8')));

// Parameter counts worked out by hand from the shape tables of MODEL.md §1.3:
const VISION =
  1280 * 3 * 2 * 14 * 14 + //                                      patch_embed          1,505,280
  32 * (2 * 1280 + 3840 * 1280 + 3840 + 1280 * 1280 + 1280 + //  norms, qkv, proj
    2 * (3420 * 1280 + 3420) + 1280 * 3420 + 1280) + //            gate, up, down       630,470,400
  16 * 2 * (1280 * 1280 + 1280) + //                               QA projections        52,469,760
  1280 + 5120 * 5120 + 5120 + 3584 * 5120 + 3584; //               merger                44,574,464
const QA = 52_469_760;
const EMBED = 152064 * 3584; //                                                        544,997,376
const LLM =
  2 * EMBED + //                                                   embed + lm_head (untied)
  28 * (3584 * 3584 + 3584 + 2 * (512 * 3584 + 512) + 3584 * 3584 + 3 * 18944 * 3584 + 2 * 3584) +
  3584; //                                                         final norm
const TEXT_ENCODER =
  151669 * 1024 + 28 * (2048 * 1024 + 2 * 1024 * 1024 + 1024 * 2048 + 2 * 128 + 3 * 3072 * 1024 + 2 * 1024) + 1024;
const TEXT_PROJ = 1280 * 1024 + 1280;

describe('ViLaVT-7B manifest (MODEL.md §1.3)', () => {
  const expected = resolveManifest(config7b);
  const count = (c: string) => expected.filter((t) => t.component === c);
  const params = (c: string) => count(c).reduce((s, t) => s + numel(t.shape), 0);

  it('tensor counts: 454 vision, 339 LLM, 310 text encoder, 2 text_proj = 1105', () => {
    expect(count('vision')).toHaveLength(454);
    expect(count('llm')).toHaveLength(339);
    expect(count('textEncoder')).toHaveLength(310);
    expect(count('textProj')).toHaveLength(2);
    expect(expected).toHaveLength(1105);
    expect(new Set(expected.map((t) => t.name)).size).toBe(1105);
  });

  it('parameter counts match the spec totals', () => {
    expect(VISION).toBe(729_019_904); // "about 0.729 B"
    expect(params('vision')).toBe(VISION);
    expect(expected.filter((t) => t.role.startsWith('vit.instruct')).reduce((s, t) => s + numel(t.shape), 0)).toBe(QA); // 52.5 M
    expect(params('llm')).toBe(LLM);
    expect(Math.round(LLM / 1e7) / 100).toBe(7.62);
    expect(params('textEncoder')).toBe(595_776_512); // the known Qwen3-Embedding-0.6B count
    expect(TEXT_ENCODER).toBe(595_776_512);
    expect(params('textProj')).toBe(TEXT_PROJ);
    expect(Math.round((VISION + LLM + TEXT_ENCODER + TEXT_PROJ) / 1e7) / 100).toBe(8.94);
  });

  it('QA projections only in blocks 16..31, with spec shapes', () => {
    const qa = expected.filter((t) => t.name.includes('instruct_'));
    expect(new Set(qa.map((t) => t.index))).toEqual(new Set(Array.from({ length: 16 }, (_, i) => 16 + i)));
    expect(qa.find((t) => t.name === 'visual.blocks.16.attn.instruct_key_proj.weight')!.shape).toEqual([1280, 1280]);
    const shape = (n: string) => expected.find((t) => t.name === n)!.shape;
    expect(shape('visual.patch_embed.proj.weight')).toEqual([1280, 3, 2, 14, 14]);
    expect(shape('visual.merger.mlp.0.weight')).toEqual([5120, 5120]);
    expect(shape('model.layers.27.self_attn.k_proj.weight')).toEqual([512, 3584]);
    expect(shape('text_encoder.layers.0.self_attn.o_proj.weight')).toEqual([1024, 2048]);
    expect(shape('text_proj.weight')).toEqual([1280, 1024]);
  });

  it('formula evaluator', () => {
    const env = new Map<string, unknown>([['a.b', 6], ['c', 4]]);
    expect(evalFormula('a.b*(c+2) - 3', env)).toBe(33);
    expect(evalFormula('a.b / 3', env)).toBe(2);
    expect(() => evalFormula('a.b / 4', env)).toThrow(/not exact/);
    expect(() => evalFormula('a.x', env)).toThrow(/a\.x is not an integer config field/);
    expect(() => evalFormula('a.b % 2', env)).toThrow(/unexpected character/);
  });
});

describe('planMemory on ViLaVT-7B', () => {
  const plan = planMemory(config7b, { contextTokens: 8192, weightDtype: 'bf16', kvDtype: 'f16' });
  const group = (label: string) => plan.weights.find((g) => g.label === label)!;

  it('weight bytes per component (bf16)', () => {
    expect(group('LLM embed_tokens').bytes).toBe(1_089_994_752); // 152064 x 3584 x 2
    expect(group('LLM lm_head').bytes).toBe(1_089_994_752);
    expect(group('LLM layers + norm').bytes).toBe(2 * (LLM - 2 * EMBED));
    expect(group('Vision tower').bytes).toBe(2 * VISION);
    expect(group('Text encoder').bytes).toBe(2 * 595_776_512);
    expect(group('text_proj').bytes).toBe(2 * TEXT_PROJ);
    expect(plan.weightBytes).toBe(17_883_449_856); // "about 17.9 GB in bf16"
  });

  it('KV cache: 28 layers x 2 x 4 kv heads x 128 x 2 bytes = 57,344 bytes per token in f16', () => {
    expect(plan.kvCache.bytesPerToken).toBe(57_344);
    expect(plan.kvCache.bytes).toBe(57_344 * 8192);
    expect(planMemory(config7b, { contextTokens: 1000, weightDtype: 'f32', kvDtype: 'f32' }).kvCache.bytes).toBe(114_688 * 1000);
  });

  it('binding splits at the WebGPU default 128 MiB', () => {
    // embed/lm_head rows are 7168 B: 18724 rows per 134,217,728-byte binding -> ceil(152064 / 18724) = 9 parts.
    // LLM gate/up/down are 18944 x 3584 x 2 = 135,790,592 B -> 2 parts each (3 x 28 tensors).
    // text-encoder embed 151669 x 1024 x 2 = 310,618,112 B, 65536 rows per part -> 3 parts. Nothing else exceeds.
    const parts = Object.fromEntries(plan.splits.map((s) => [s.name, s.parts]));
    expect(plan.splits).toHaveLength(2 + 84 + 1);
    expect(parts['model.embed_tokens.weight']).toBe(9);
    expect(parts['lm_head.weight']).toBe(9);
    expect(parts['model.layers.5.mlp.down_proj.weight']).toBe(2);
    expect(parts['text_encoder.embed_tokens.weight']).toBe(3);
    // f32 activations: one image call at the full 8192-token budget is 32768 patches, and the ViT's residual
    // stream [32768, 1280] f32 = 160 MiB must be bound whole: over 128 MiB, so it does not fit; f16 does.
    expect(plan.fits).toBe(false);
    expect(plan.problems).toEqual([expect.stringContaining('at most 26214 patches (6553 visual tokens)')]);
    const f16 = planMemory(config7b, { contextTokens: 8192, weightDtype: 'bf16', kvDtype: 'f16', actDtype: 'f16' });
    expect(f16.fits).toBe(true);
    const roomy = planMemory(config7b, { contextTokens: 8192, weightDtype: 'bf16', kvDtype: 'f16', limits: { maxBufferSize: 2 ** 31, maxStorageBufferBindingSize: 2 ** 31 } });
    expect(roomy.splits).toEqual([]);
  });

  it('scratch estimate for the canonical 6,422,528-pixel budget and a 512-token chunk', () => {
    // 6,422,528 / 196 = 32768 patches; ViT peak (f32) = N x (1176 + max(6 x 1280, 2 x 1280 + 2 x 3420)) x 4
    // + merged features 8192 x 3584 x 4; prefill = (max(4 x 512 x 3584 + 2 x 512 x 512, 2 x 512 x 3584 + 2 x 512 x 18944) + 152064) x 4.
    expect(plan.scratch.visionPatches).toBe(32768);
    expect(plan.scratch.visionBytes).toBe(32768 * (1176 + 9400) * 4 + 8192 * 3584 * 4);
    expect(plan.scratch.prefillBytes).toBe((2 * 512 * 3584 + 2 * 512 * 18944 + 152064) * 4);
    expect(plan.total).toBe(plan.weightBytes + plan.kvCache.bytes + plan.scratch.visionBytes + plan.scratch.prefillBytes);
  });

  it('fits reports a budget overrun and an unsplittable row', () => {
    const small = planMemory(config7b, { contextTokens: 8192, weightDtype: 'bf16', kvDtype: 'f16', budgetBytes: 16 * 2 ** 30 });
    expect(small.fits).toBe(false);
    expect(small.problems[0]).toMatch(/exceeds the budget 16\.00 GiB/);
    const tinyLimit = planMemory(config7b, { contextTokens: 16, weightDtype: 'f32', kvDtype: 'f32', limits: { maxBufferSize: 1 << 20, maxStorageBufferBindingSize: 1 << 16 } });
    expect(tinyLimit.fits).toBe(false);
    expect(tinyLimit.problems.some((p) => p.startsWith('model.layers.0.mlp.down_proj.weight: one row (75776 bytes)'))).toBe(true);
  });

  it('bindingParts keeps packed 16-bit parts even', () => {
    expect(bindingParts([7, 3], 2, { maxBufferSize: 20, maxStorageBufferBindingSize: 20 })).toEqual({ rowBytes: 6, parts: 4 }); // 3 rows fit, 2 used
    expect(bindingParts([7, 4], 2, { maxBufferSize: 20, maxStorageBufferBindingSize: 20 })).toEqual({ rowBytes: 8, parts: 4 });
    expect(bindingParts([10], 4, { maxBufferSize: 100, maxStorageBufferBindingSize: 16 })).toEqual({ rowBytes: 4, parts: 3 });
  });

  it('formatMemoryPlan prints an aligned table', () => {
    const text = formatMemoryPlan(plan);
    expect(text).toMatch(/LLM embed_tokens \(bf16\)\s+1\s+544,997,376\s+1\.02 GiB/);
    expect(text).toMatch(/KV cache \(8,192 tokens, f16, 57,344 B\/token\)\s+448\.0 MiB/);
    expect(text).toContain('87 tensor(s) exceed the 128.0 MiB binding limit -> 189 bindings');
    const rows = text.split('\n').filter((l) => /(GiB|MiB|KiB)$/.test(l) && !l.startsWith(' '));
    expect(new Set(rows.map((l) => l.length)).size).toBe(1); // right-aligned size column
  });
});
