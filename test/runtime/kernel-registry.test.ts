// The kernel registry generated from kernels/*.wgsl: unknown defines and constants fail at pipeline creation, a
// dispatch whose parameters or bindings do not match the variant's declarations fails before reaching the GPU,
// and the debug mode names the kernel and the op behind a GPU validation error.
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CORE, getGpu, uploadValues } from '../helpers/gpu.js';
import { createNodeGpu } from '../../src/platform/node.js';
import type { Gpu } from '../../src/runtime/device.js';
import { GpuValidationError, ShaderCompileError, ShapeError } from '../../src/runtime/errors.js';
import { KERNEL_TABLE } from '../../src/runtime/kernels.js';
import { f32, u32 } from '../../src/runtime/recorder.js';

const KV_WRITE_PARAMS = () => [u32(2), u32(1), u32(1), u32(0), u32(0)];

describe('kernel registry', () => {
  it('lists every kernel file with what it declares', () => {
    const files = readdirSync('kernels').filter((f) => f.endsWith('.wgsl') && !f.startsWith('_')).map((f) => f.slice(0, -5)).sort();
    expect(Object.keys(KERNEL_TABLE).sort()).toEqual(files);
    expect(KERNEL_TABLE.rmsnorm!.defines).toEqual(['COOP', 'IN_PLACE', 'RESIDUAL', 'VEC4']);
    expect(KERNEL_TABLE.rmsnorm!.uniforms[0]!.fields.map(([n, t]) => `${n}:${t}`)).toEqual(
      ['units:u32', 'heads:u32', 'dim:u32', 'stride:u32', 'offset:u32', 'eps:f32', 'elems:f32']);
    // Defines used only inside an included snippet count for the kernel that includes it.
    expect(KERNEL_TABLE.matmul!.defines).toContain('W_BF16');
  });

  it('a variant\'s signature follows its #if branches (uniform struct and storage bindings)', async () => {
    const gpu = await getGpu(CORE);
    const embed = gpu.pipeline('rows', { defines: { EMBED: true, W_BF16: true }, constants: { WG: 64, PER: 1 } }).signature!;
    const gather = gpu.pipeline('rows', { constants: { WG: 64, PER: 1 } }).signature!;
    expect(embed.fields).toEqual(['n', 'dim', 'row0', 'rows', 'vocab', 'nan_bits']);
    expect(gather.fields).toEqual(['n', 'unit_items', 'src_units', 'dst_units', 'nan_bits']);
    const plain = gpu.pipeline('matmul_vec', { defines: { W16: true, W_BF16: true } }).signature!;
    const biased = gpu.pipeline('matmul_vec', { defines: { W16: true, W_BF16: true, HAS_BIAS: true } }).signature!;
    expect(biased.storageBindings).toBe(plain.storageBindings + 1);
    await gpu.sync();
  });

  it('rejects a define or constant the kernel does not have', async () => {
    const gpu = await getGpu(CORE);
    // Casts stand in for untyped callers (JavaScript, computed specs): the types already reject these.
    expect(() => gpu.pipeline('rmsnorm', { defines: { VEC_4: true } as object })).toThrow(/unknown define 'VEC_4'.*VEC4/);
    expect(() => gpu.pipeline('rope', { constants: { WGX: 64 } as object })).toThrow(ShaderCompileError);
  });

  it('checks the parameter list and bindings of a dispatch against the variant', async () => {
    const gpu = await getGpu(CORE);
    const pipe = gpu.pipeline('attention_kv_write');
    const src = uploadValues(gpu, [1, 2, 3, 4, 5, 6, 7, 8], [2, 4], 'f32');
    const dst = gpu.tensor([2, 4], 'f32');
    const rec = gpu.recorder();
    try {
      expect(() => rec.dispatch(pipe, KV_WRITE_PARAMS().slice(1), [src, dst], [1])).toThrow(ShapeError);
      expect(() => rec.dispatch(pipe, KV_WRITE_PARAMS().slice(1), [src, dst], [1]))
        .toThrow(/attention_kv_write.*\(rows: u32, w4: u32, src_stride: u32, src_off: u32, at: u32\)/);
      expect(() => rec.dispatch(pipe, [...KV_WRITE_PARAMS().slice(0, 4), f32(0)], [src, dst], [1])).toThrow(ShapeError);
      expect(() => rec.dispatch(pipe, KV_WRITE_PARAMS(), [src], [1])).toThrow(/1 storage bindings/);
      rec.dispatch(pipe, KV_WRITE_PARAMS(), [src, dst], [1]);
      rec.submit();
      expect(Array.from(await gpu.read(dst))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    } finally {
      rec.release();
      gpu.destroyTensor(src);
      dst.release();
    }
  });
});

const keep: Gpu[] = []; // Dawn needs a strong reference to every device's GPU object

describe('debug mode (debugDispatch)', () => {
  it('names the kernel and the recording op of a dispatch the GPU rejects', async () => {
    const gpu = await createNodeGpu({ disable: { f16: true, subgroups: true }, debugDispatch: true });
    keep.push(gpu);
    const pipe = gpu.pipeline('attention_kv_write');
    const t = gpu.tensor([2, 4], 'f32');
    const rec = gpu.recorder();
    // One buffer bound read-only and writable in one dispatch: a usage conflict only the GPU's validation sees.
    function recordAliasedCopy(): void {
      rec.dispatch(pipe, KV_WRITE_PARAMS(), [t, t], [1]);
    }
    recordAliasedCopy();
    const e = await gpu.sync().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(GpuValidationError);
    expect((e as GpuValidationError).context).toMatch(/kernel 'attention_kv_write' recorded by recordAliasedCopy/);
    rec.release();
    t.release();
  });
});
