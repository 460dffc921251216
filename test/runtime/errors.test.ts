import { describe, expect, it } from 'vitest';
import { createNodeGpu } from '../../src/platform/node.js';
import { Gpu } from '../../src/runtime/device.js';
import { DeviceLostError, MissingLimitError, NoAdapterError, OutOfMemoryError, ShaderCompileError } from '../../src/runtime/errors.js';
import { getGpu, CORE } from '../helpers/gpu.js';

describe('typed runtime errors', () => {
  it('no WebGPU implementation -> NoAdapterError', async () => {
    await expect(Gpu.create({ gpu: undefined })).rejects.toBeInstanceOf(NoAdapterError);
    const fakeGpu = { requestAdapter: async () => null } as unknown as GPU;
    await expect(Gpu.create({ gpu: fakeGpu })).rejects.toThrow(/no adapter/);
  });

  it('an adapter below the required limits -> MissingLimitError naming the limit', async () => {
    const real = await getGpu(CORE);
    const limits = { ...Object.fromEntries(Object.entries(Object.getOwnPropertyDescriptors(Object.getPrototypeOf(real.limits))).map(([k]) => [k, (real.limits as unknown as Record<string, number>)[k]])), maxStorageBuffersPerShaderStage: 4 };
    const fakeGpu = { requestAdapter: async () => ({ features: new Set(), limits, requestDevice: async () => { throw new Error('unreachable'); } }) } as unknown as GPU;
    const err = await Gpu.create({ gpu: fakeGpu }).catch((e) => e);
    expect(err).toBeInstanceOf(MissingLimitError);
    expect(String(err.message)).toMatch(/maxStorageBuffersPerShaderStage is 4/);
    expect(() => real.requireLimit('maxBufferSize', Number.MAX_SAFE_INTEGER)).toThrow(MissingLimitError);
  });

  it('allocations beyond maxBufferSize -> OutOfMemoryError', async () => {
    const gpu = await getGpu(CORE);
    expect(() => gpu.createBuffer(gpu.limits.maxBufferSize + 4, 0x80, 'huge')).toThrow(OutOfMemoryError);
  });

  it('WGSL errors -> ShaderCompileError with the kernel name and the compiler message', async () => {
    const gpu = await getGpu(CORE);
    const e = await gpu.pipelines.compileSource('my_kernel', '@compute @workgroup_size(1) fn main() { let x: u32 = 1.5; }').catch((x) => x);
    expect(e).toBeInstanceOf(ShaderCompileError);
    expect(e.kernel).toBe('my_kernel');
    expect(e.message).toMatch(/line 1:54: .*u32/);
  });

  it('a lost device -> DeviceLostError on the next use', async () => {
    const gpu = await createNodeGpu({ disable: { f16: true, subgroups: true } });
    gpu.device.destroy();
    await new Promise((r) => setTimeout(r, 50));
    expect(gpu.isLost).toBe(true);
    expect(() => gpu.tensor([4], 'f32')).toThrow(DeviceLostError);
    await expect(gpu.sync()).rejects.toBeInstanceOf(DeviceLostError);
  });
});
