// The independent float64 oracle's forward passes (test/fixtures/golden/tiny-a, and tiny-a-awq: the same model
// family with its LLM decoder linears stored as AWQ 4-bit, other tensors F16; copied unchanged from the shared
// goldens) through the whole engine, on the f32 path and — when the adapter has shader-f16 — the f16 path.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { runModelGolden } from '../../src/golden/model.js';
import { featurePaths, getGpu } from '../helpers/gpu.js';

describe.each(['tiny-a', 'tiny-a-awq'])('golden %s', async (name) => {
  const DIR = join(import.meta.dirname, '../fixtures/golden', name);
  const paths = await featurePaths();
  it.each(paths)('every scenario matches on the $name path', async (path) => {
    const gpu = await getGpu(path);
    const act = path.name === 'f16' ? 'f16' : 'f32';
    const r = await runModelGolden(DIR, gpu, act);
    const failures = r.lines.filter((l) => !l.startsWith('PASS'));
    expect(failures, r.lines.join('\n')).toEqual([]);
    expect(r.ok).toBe(true);
    // Every scenario contributed checks (the runner recognised them all).
    for (const s of ['a_vision', 'b_reencode', 'c_text_encoder', 'd_prefill', 'e_second_turn', 'f_greedy', 'g_inquiry_padding', 'h_ops']) {
      expect(r.lines.some((l) => l.includes(` ${s}.`)), s).toBe(true);
    }
  });
});
