// `vilavt inspect --quant q4 --json`: the 4-bit plan of ViLaVT-7B fits 6 GiB and a 128 MiB-binding / 4 GiB-buffer
// adapter; a folder that is already 4-bit is planned as stored.
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { inspectMain } from '../../src/cli/inspect.js';

const FIX = join(import.meta.dirname, '../fixtures');

async function inspectJson(args: string[]): Promise<Record<string, any>> {
  const out: string[] = [];
  const spy = vi.spyOn(console, 'log').mockImplementation((s: unknown) => void out.push(String(s)));
  try {
    expect(await inspectMain([...args, '--json'])).toBe(0);
  } finally {
    spy.mockRestore();
  }
  expect(out).toHaveLength(1);
  return JSON.parse(out[0]!) as Record<string, any>;
}

describe('vilavt inspect --quant q4', () => {
  afterEach(() => vi.restoreAllMocks());

  it('ViLaVT-7B: weights, f16 KV cache for 8192 tokens and scratch at the full visual budget fit in 6 GiB', async () => {
    const p = await inspectJson(['--model', join(FIX, 'vilavt-7b/config.json'), '--quant', 'q4',
      '--binding-limit', String(128 * 2 ** 20), '--buffer-limit', String(4 * 2 ** 30)]);
    expect(p.total_bytes).toBeLessThanOrEqual(6 * 2 ** 30);
    expect(p.fits).toBe(true);
    expect(p.problems).toEqual([]);
    expect(p.context_tokens).toBe(8192);
    expect(p.kv_dtype).toBe('f16');
    expect(p.total_bytes).toBe(p.weight_bytes + p.kv_cache_bytes + p.scratch_bytes);
    // The embedding tables (LLM 152064 x 3584 and text encoder 151669 x 1024, bf16) are held by the host.
    expect(p.host_bytes).toBe((152064 * 3584 + 151669 * 1024) * 2);
    // Every LLM decoder linear is 4-bit: 28 layers x 7.
    expect(p.weights.find((g: { label: string }) => g.label === 'LLM layers + norm 4-bit').tensors).toBe(28 * 7);
    // The bf16 plan of the same model does not fit the budget.
    const bf16 = await inspectJson(['--model', join(FIX, 'vilavt-7b/config.json')]);
    expect(bf16.total_bytes).toBeGreaterThan(3 * p.total_bytes);
  });

  it('a 4-bit folder is planned as stored (its quantization_config), without --quant', async () => {
    const p = await inspectJson(['--model', join(FIX, 'golden/tiny-a-awq/checkpoint')]);
    expect(p.quant).toEqual({ kind: 'q4', tensors: 2 * 7, groups: [64] });
    expect(p.host_bytes).toBe((320 * 64 + 320 * 32) * 2);
    // Its bare config.json (planning before a download) infers the same 4-bit set from modules_to_not_convert.
    const bare = await inspectJson(['--model', join(FIX, 'golden/tiny-a-awq/checkpoint/config.json')]);
    expect(bare.quant).toEqual(p.quant);
    expect(bare.total_bytes).toBe(p.total_bytes);
  });
});
