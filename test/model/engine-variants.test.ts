// The GPU engine against our float64 reference on generated checkpoint variants (other dimensions, tied heads,
// shards, GQA ratios, a Qwen3 text encoder whose heads·head_dim != hidden, several regions and query groups,
// non-square images, integration points, a plain qwen2_5_vl checkpoint, partial windows). Each variant is written
// as a tiny-a-format case folder (test/reference/golden-case.ts) and run by the same runner as the independent goldens
// (src/golden/model.ts) on the f32 path and, when the adapter has shader-f16, the f16 path. Tolerances are the
// runner's (tiny-a README): f32 1e-4 relative to max|ref|, f16 5e-3 (vision/text) and 3e-2 (logits).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runModelGolden } from '../../src/golden/model.js';
import { makeGoldenCase, VARIANTS, writeGoldenCase, type CaseTensor, type GoldenCase } from '../reference/golden-case.js';
import { featurePaths, getGpu } from '../helpers/gpu.js';

const root = mkdtempSync(join(tmpdir(), 'vilavt-variants-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const paths = await featurePaths();

function tensor(c: GoldenCase, scenario: string, name: string): CaseTensor {
  const t = c.scenarios.find((s) => s.name === scenario)?.tensors.find((x) => x.name === name);
  if (!t) throw new Error(`${scenario}.${name} missing`);
  return t;
}
const config = (c: GoldenCase) => JSON.parse(new TextDecoder().decode(c.checkpointFiles.find((f) => f.name === 'config.json')!.bytes)) as Record<string, any>;
const ints = (c: GoldenCase, s: string, n: string) => tensor(c, s, n).data as number[];
const diffs = (cu: number[]) => cu.slice(1).map((x, i) => x - cu[i]!);

/** What each variant claims to exercise, checked on the generated case so a variant cannot silently lose its point. */
const CLAIMS: Record<string, (c: GoldenCase) => void> = {
  'tiny-a-like': (c) => {
    expect(config(c).tie_word_embeddings).toBe(false);
    expect(c.checkpointFiles.map((f) => f.name)).toContain('model.safetensors');
  },
  'tied-sharded': (c) => {
    expect(config(c).tie_word_embeddings).toBe(true);
    const index = JSON.parse(new TextDecoder().decode(c.checkpointFiles.find((f) => f.name === 'model.safetensors.index.json')!.bytes));
    expect(new Set(Object.values(index.weight_map)).size).toBe(3);
    expect(Object.keys(index.weight_map)).not.toContain('lm_head.weight');
  },
  gqa3: (c) => {
    const j = config(c);
    expect(j.num_attention_heads / j.num_key_value_heads).toBe(3);
    expect(j.text_encoder_config.num_attention_heads).toBe(j.text_encoder_config.num_key_value_heads);
  },
  'te-wide-heads': (c) => {
    const t = config(c).text_encoder_config;
    expect(t.num_attention_heads * t.head_dim).not.toBe(t.hidden_size);
  },
  'multi-region': (c) => {
    expect(ints(c, 'b_reencode', 'image_to_query_mapping')).toEqual([0, 0, 0, 1]);
    const sizes = c.variant.originals;
    expect(sizes.every(([w, h]) => w !== h)).toBe(true);
    // The turn-2 call holds dummy queries and a right-padded inquiry (a mask row with both 1 and 0).
    const mask = ints(c, 'e_second_turn', 'vision_query_mask');
    const T = tensor(c, 'e_second_turn', 'vision_query_mask').shape[1]!;
    const rows = Array.from({ length: mask.length / T }, (_, q) => mask.slice(q * T, (q + 1) * T));
    expect(rows.some((r) => r.every((x) => x === 0))).toBe(true);
    expect(rows.some((r) => r.includes(0) && r.includes(1))).toBe(true);
  },
  'ip-sparse': (c) => expect(config(c).vision_config.integration_point).toBe('sparse'),
  'ip-all': (c) => expect(config(c).vision_config.integration_point).toBe('all'),
  'plain-qwen': (c) => {
    const j = config(c);
    expect(j.model_type).toBe('qwen2_5_vl');
    expect(j.text_encoder_config).toBeUndefined();
    expect(c.scenarios.map((s) => s.name)).toEqual(['a_vision', 'b_reencode', 'd_prefill', 'e_second_turn', 'f_greedy']);
  },
  windows: (c) => {
    // 168x112 = 4x6 merged units, 3x3-unit windows: 4 rows pad to 6 (2 full + 2 partial windows), 6 columns pad
    // to 9 (a third, all-padding window column that vanishes) -> 4 windows of 36, 36, 12, 12 patch tokens.
    expect(diffs(ints(c, 'a_vision', 'cu_window_seqlens'))).toEqual([36, 36, 12, 12]);
  },
};

describe('every variant has its claims checked', () => {
  it('CLAIMS covers VARIANTS', () => expect(Object.keys(CLAIMS).sort()).toEqual(VARIANTS.map((v) => v.name).sort()));
});

for (const variant of VARIANTS) {
  describe(`variant ${variant.name}: ${variant.about}`, () => {
    let c: GoldenCase;
    const dir = join(root, variant.name);
    beforeAll(async () => {
      c = await makeGoldenCase(variant);
      await writeGoldenCase(dir, c);
    });

    it('the generated case exercises what the variant claims', () => CLAIMS[variant.name]!(c));

    it.each(paths)('engine matches the float64 reference on the $name path', async (path) => {
      const gpu = await getGpu(path);
      const r = await runModelGolden(dir, gpu, path.name === 'f16' ? 'f16' : 'f32');
      expect(r.lines.filter((l) => !l.startsWith('PASS')), r.lines.join('\n')).toEqual([]);
      expect(r.ok).toBe(true);
      // The runner recognised every scenario (each contributed checks).
      for (const s of c.scenarios) expect(r.lines.some((l) => l.includes(` ${s.name}.`)), s.name).toBe(true);
    });
  });
}

describe('the runner cannot pass vacuously', () => {
  it.each(paths)('a case whose expected b_reencode.features is off by 1% of max|features| in one element fails on the $name path', async (path) => {
    const c = await makeGoldenCase(VARIANTS[0]!);
    const t = c.scenarios.find((s) => s.name === 'b_reencode')!.tensors.find((x) => x.name === 'features')!;
    const f = Float32Array.from(t.data as Float32Array);
    const max = f.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    f[Math.floor(f.length / 3)]! += 0.01 * max; // 1e-2 relative: above the f32 (1e-4) and f16 (5e-3) tolerances
    t.data = f;
    const dir = join(root, `sabotaged-${path.name}`);
    await writeGoldenCase(dir, c);
    const r = await runModelGolden(dir, await getGpu(path), path.name === 'f16' ? 'f16' : 'f32');
    expect(r.ok).toBe(false);
    const failed = r.lines.filter((l) => !l.startsWith('PASS'));
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatch(/^FAIL f(32|16) b_reencode\.features: rel /);
    const rel = Number(/rel (\S+)/.exec(failed[0]!)![1]);
    expect(rel).toBeGreaterThan(0.009); // the 1e-2 perturbation, give or take the path's own error
    expect(rel).toBeLessThan(0.011);
  });
});
