// Kernels have two layouts: one for CPU adapters (the lavapipe/SwiftShader this suite runs on) and one for real
// GPUs (wide workgroups, cooperative reductions). Forcing the GPU layouts here keeps them covered by the same
// CPU references on every machine, although only a real GPU can time them.
import { describe, expect, it } from 'vitest';
import { runSelfTest } from '../../src/selftest/index.js';
import { featurePaths, getGpu } from '../helpers/gpu.js';

describe('GPU kernel layouts (forced on this adapter)', async () => {
  const paths = await featurePaths();
  it.each(paths)('every self-test case passes on the $name path', async (path) => {
    const gpu = await getGpu(path, { kernelLayout: 'gpu' });
    expect(gpu.cpuLayout).toBe(false);
    const results = await runSelfTest(gpu);
    expect(results.filter((r) => !r.ok).map((r) => `${r.name}: ${r.detail ?? r.maxRelErr}`)).toEqual([]);
    expect(results.filter((r) => !r.skipped).length).toBeGreaterThan(20);
  });
});
