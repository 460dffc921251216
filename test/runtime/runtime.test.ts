import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { getGpu, CORE, featurePaths, poison, uploadValues } from '../helpers/gpu.js';
import { uniform } from '../helpers/random.js';
import { u32, f32, foldWorkgroups } from '../../src/runtime/recorder.js';
import { preprocess, buildModule } from '../../src/runtime/wgsl.js';
import { ShaderCompileError, ShapeError } from '../../src/runtime/errors.js';
import { decode, encode, numberToF16Bits, f16BitsToNumber, numberToBf16Bits, bf16BitsToNumber } from '../../src/runtime/dtype.js';
import { bucketSize } from '../../src/runtime/buffer-pool.js';
import type { Gpu } from '../../src/runtime/device.js';
import { createNodeGpu } from '../../src/platform/node.js';

/** Devices of single tests, strongly referenced (Dawn crashes when one is garbage-collected). */
const privateGpus: Gpu[] = [];

const AXPY = `
struct P { n: u32, a: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) l: u32) {
  let i = (wid.x + wid.y * nwg.x) * 64u + l;
  if (i < p.n) { y[i] = p.a * x[i] + y[i]; }
}`;

describe('wgsl preprocessor', () => {
  it('selects branches and keeps line numbers', () => {
    const src = 'a\n#if X\nb\n#elif Y\nc\n#else\nd\n#endif\ne';
    expect(preprocess(src, { X: true }, 't').split('\n')).toEqual(['a', '', 'b', '', '', '', '', '', 'e']);
    expect(preprocess(src, { Y: true }, 't').split('\n')).toEqual(['a', '', '', '', 'c', '', '', '', 'e']);
    expect(preprocess(src, {}, 't').split('\n')).toEqual(['a', '', '', '', '', '', 'd', '', 'e']);
    expect(preprocess('#if !X\nq\n#endif', {}, 't')).toBe('\nq\n');
    expect(() => preprocess('#if X\n', {}, 't')).toThrow(/unterminated/);
    expect(buildModule('k', 'x', { ACT_F16: true }).split('\n')[0]).toContain('enable f16;');
  });
});

describe('dtype codecs', () => {
  it('round-trips f16 and bf16 with round-to-nearest-even', () => {
    for (const v of [0, 1, -2.5, 65504, 6.1e-5, 5.96e-8, 1 / 3]) {
      expect(Math.abs(f16BitsToNumber(numberToF16Bits(v)) - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -11 + 2 ** -25);
    }
    expect(numberToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie -> even
    expect(numberToBf16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie -> even
    expect(bf16BitsToNumber(numberToBf16Bits(3.140625))).toBe(3.140625);
    const v = uniform(7, 1);
    const back = decode(encode(v, 'bf16'), 'bf16', 7);
    for (let i = 0; i < 7; i++) expect(Math.abs(back[i]! - v[i]!)).toBeLessThanOrEqual(Math.abs(v[i]!) * 2 ** -8);
  });
  it('pool buckets waste at most 25%', () => {
    for (const n of [1, 300, 4097, 1e6, 123456789]) {
      const b = bucketSize(n);
      expect(b).toBeGreaterThanOrEqual(n);
      expect(b).toBeLessThanOrEqual(Math.max(256, n * 1.25 + 256));
    }
  });
});

describe('runtime on the GPU', async () => {
  const paths = await featurePaths();
  it.each(paths)('dispatches with uniform params and folded grids ($name)', async (path) => {
    const gpu = await getGpu(path);
    const pipe = await gpu.pipelines.compileSource('axpy', buildModule('axpy', AXPY, {}));
    for (const n of [1, 1000, 64 * 65535 + 77]) {
      const x = uniform(n, 3);
      const y0 = uniform(n, 4);
      const tx = uploadValues(gpu, x, [n], 'f32');
      const ty = gpu.tensor([n], 'f32');
      gpu.write(ty, encode(y0, 'f32'));
      const rec = gpu.recorder();
      rec.dispatch(pipe, [u32(n), f32(0.5)], [tx, ty], foldWorkgroups(Math.ceil(n / 64)));
      rec.submit();
      const out = await gpu.read(ty);
      for (let i = 0; i < n; i += Math.max(1, Math.floor(n / 997))) {
        expect(out[i]).toBeCloseTo(Math.fround(Math.fround(0.5 * x[i]!) + y0[i]!), 5);
      }
      expect(out[n - 1]).toBeCloseTo(0.5 * x[n - 1]! + y0[n - 1]!, 5);
      ty.release();
      gpu.destroyTensor(tx);
    }
  });

  it('caches pipelines and bind groups', async () => {
    const gpu = await getGpu(CORE);
    // @ts-expect-error: kernel names are typed; a misspelt one is a compile error, and still a runtime one
    expect(() => gpu.pipeline('no-such-kernel')).toThrow(ShaderCompileError);
    const before = gpu.stats().bindGroups;
    const pipe = await gpu.pipelines.compileSource('axpy', buildModule('axpy', AXPY, {}));
    const x = uploadValues(gpu, uniform(10, 1), [10], 'f32');
    const y = gpu.tensor([10], 'f32');
    poison(gpu, y);
    const rec = gpu.recorder();
    for (let step = 0; step < 3; step++) {
      rec.dispatch(pipe, [u32(10), f32(step)], [x, y], [1]);
      rec.dispatch(pipe, [u32(10), f32(step)], [x, y], [1]);
      rec.submit();
    }
    await gpu.sync();
    expect(gpu.stats().bindGroups - before).toBe(2); // two uniform slots, reused every step
  });

  it('reports WGSL compile errors with the kernel name', async () => {
    const gpu = await getGpu(CORE);
    await expect(gpu.pipelines.compileSource('broken', 'fn main( {')).rejects.toThrow(/broken.*compile/s);
  });

  it('splits tensors over the binding limit and reads them back in order', async () => {
    const gpu = await getGpu(CORE, { maxBindingBytes: 1024 });
    const rows = 77, cols = 13; // 26 bytes per bf16 row: odd word count, so parts hold an even number of rows
    const v = uniform(rows * cols, 9);
    const t = uploadValues(gpu, v, [rows, cols], 'bf16');
    expect(t.parts.length).toBeGreaterThan(1);
    for (const p of t.parts) expect(p.byteLength).toBeLessThanOrEqual(1024);
    expect(t.parts.reduce((s, p) => s + p.rows, 0)).toBe(rows);
    const back = await gpu.read(t);
    const ref = decode(encode(v, 'bf16'), 'bf16', v.length);
    expect(Array.from(back)).toEqual(Array.from(ref));
    expect(() => gpu.tensor([1000], 'f32')).toThrow(ShapeError);
  });

  it('memoryStats counts every live GPU buffer: weights, pooled activations, uniform arenas, readbacks', async () => {
    // A device of its own: nothing another test left in a pool or an error queue.
    const gpu = await createNodeGpu({ disable: { f16: true, subgroups: true } });
    privateGpus.push(gpu);
    const pipe = await gpu.pipelines.compileSource('axpy', buildModule('axpy', AXPY, {}));
    const m0 = gpu.memoryStats();
    const w = uploadValues(gpu, uniform(1000, 5), [1000], 'f32');
    const m1 = gpu.memoryStats();
    expect(m1.buffers - m0.buffers).toBe(1);
    expect(m1.bufferBytes - m0.bufferBytes).toBe(4000);
    expect(m1.weightBytes - m0.weightBytes).toBe(4000);
    const y = gpu.tensor([1000], 'f32', 'y');
    poison(gpu, y);
    const m2 = gpu.memoryStats();
    expect(m2.poolInUseBytes - m1.poolInUseBytes).toBe(bucketSize(4000));
    expect(m2.buffers - m1.buffers).toBe(1);
    expect(m2.bufferBytes - m1.bufferBytes).toBe(bucketSize(4000));
    const rec = gpu.recorder();
    rec.dispatch(pipe, [u32(1000), f32(1)], [w, y], [Math.ceil(1000 / 64)]);
    rec.release();
    await gpu.read(y); // a staging buffer, destroyed after the read
    const m3 = gpu.memoryStats();
    y.release();
    const m4 = gpu.memoryStats();
    expect(m4.poolInUseBytes).toBe(m1.poolInUseBytes);
    expect(m4.poolCachedBytes - m3.poolCachedBytes).toBe(bucketSize(4000));
    expect(m4.buffers).toBe(m3.buffers); // released to the pool, not destroyed
    // Reading again, recording again: the staging buffer and the recorder's uniform arena leave nothing behind.
    const z = gpu.tensor([1000], 'f32', 'z'); // the pooled buffer y had
    const again = gpu.recorder();
    again.dispatch(pipe, [u32(1000), f32(1)], [w, z], [1]);
    again.release();
    await gpu.read(z);
    z.release();
    expect(gpu.memoryStats().buffers).toBe(m4.buffers);
    gpu.destroyTensor(w);
    gpu.destroyTensor(w); // twice: counted once
    const m5 = gpu.memoryStats();
    expect(m5.buffers).toBe(m4.buffers - 1);
    expect(m5.weightBytes).toBe(m0.weightBytes);
    gpu.pool.trim();
    const m6 = gpu.memoryStats();
    expect(m6.poolCachedBytes).toBe(0);
    expect(m5.bufferBytes - m6.bufferBytes).toBe(m5.poolCachedBytes);
    gpu.destroy();
  });

  it('creates GPU buffers only through Gpu.createBuffer (the one place that counts them)', () => {
    const offenders: string[] = [];
    const walk = (d: string) => {
      for (const name of readdirSync(d)) {
        const p = join(d, name);
        if (statSync(p).isDirectory()) walk(p);
        else if (p.endsWith('.ts') && !p.endsWith(join('runtime', 'device.ts')) && /\bdevice\s*\.\s*createBuffer\s*\(|createBuffer\s*\(\s*\{/.test(readFileSync(p, 'utf8'))) offenders.push(p);
      }
    };
    walk(join(import.meta.dirname, '../../src'));
    expect(offenders).toEqual([]);
  });

  it('describes the adapter and the granted features', async () => {
    const gpu = await getGpu(CORE);
    expect(gpu.features.f16).toBe(false);
    expect(gpu.describe()).toMatch(/shader-f16=false/);
  });
});
