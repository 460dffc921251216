// The app's fit check on the real 7B config (test/fixtures/vilavt-7b) at WebGPU's default limits (128 MiB
// bindings): with f32 activations the ViT's largest call, 8192*28*28 px = 32768 patches x 1280 hidden x 4 B =
// 160 MiB, exceeds one binding, so the page must refuse before downloading; with f16 activations it is 80 MiB and
// the plan fits. Also the rate meter's window arithmetic.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { fitReport } from '../../src/app/fit.js';
import { ProgressMeter } from '../../src/app/progress-meter.js';
import { parseModelConfig } from '../../src/model/config.js';
import { WEBGPU_DEFAULT_LIMITS } from '../../src/model/memory-plan.js';

describe('fitReport', () => {
  test('7B: refused in words with f32 activations, accepted with f16', async () => {
    const config = parseModelConfig(JSON.parse(await readFile(join(__dirname, '../fixtures/vilavt-7b/config.json'), 'utf8')), 'config.json');
    const o = { limits: WEBGPU_DEFAULT_LIMITS, contextTokens: 16384, adapter: 'test adapter' };
    const f32 = fitReport(config, { ...o, activations: 'f32' });
    expect(f32.fits).toBe(false);
    expect(f32.words).toMatch(/does not fit this adapter \(test adapter\)/);
    expect(f32.words).toMatch(/ViT activation \[32768, 1280\]/);
    expect(f32.words).toMatch(/4-bit \(AWQ\)/); // ~15 GiB of bf16 weights
    const f16 = fitReport(config, { ...o, activations: 'f16' });
    expect(f16.fits).toBe(true);
    // bf16 weights of a ~8B-parameter model: between 14 and 18 GiB, plus the KV cache and scratch.
    expect(f16.totalBytes).toBeGreaterThan(14 * 2 ** 30);
    expect(f16.words).toMatch(/^This model needs about \d+\.\d\d GiB of GPU memory/);
  });
});

describe('ProgressMeter', () => {
  test('rate over the window and time left', () => {
    let t = 0;
    const m = new ProgressMeter(1000, () => t);
    expect(m.update(0)).toBeNull();
    t = 100;
    expect(m.update(50)).toBeNull(); // under 200 ms of samples
    t = 500;
    expect(m.update(1000)).toBe(2000); // 1000 B in 0.5 s
    t = 2000;
    // Samples older than the window are dropped: (0,0) and (100,50) go, the rate is (3000-1000) B / 1.5 s.
    expect(m.update(3000)).toBeCloseTo(2000 / 1.5, 9);
    expect(ProgressMeter.eta(4000, 2000)).toBe(2);
    expect(ProgressMeter.eta(10, null)).toBeNull();
    expect(ProgressMeter.eta(0, null)).toBe(0);
  });
});
