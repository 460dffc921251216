// Profile mode (GpuOptions.profile): every dispatch timed by its own pass, times summed per kernel variant, and the
// results unchanged by the extra passes.
import { afterAll, describe, expect, it } from 'vitest';
import { createNodeGpu } from '../../src/platform/node.js';
import { gelu, siluMul } from '../../src/ops/activation.js';
import { refGelu, refSiluMul } from '../../src/reference/activation.js';
import { MissingFeatureError } from '../../src/runtime/errors.js';
import type { Gpu } from '../../src/runtime/device.js';
import { uniformArray } from '../../src/util/random.js';
import { maxRelErr } from '../../src/util/rel-err.js';

const keep: Gpu[] = [];
afterAll(() => { for (const g of keep) g.destroy(); });

describe('GPU profiler', () => {
  it('times every dispatch per kernel variant; outputs are those of the unprofiled path', async () => {
    const gpu = await createNodeGpu({ profile: true, disable: { f16: true, subgroups: true } });
    keep.push(gpu);
    const rows = 3, inter = 37; // odd sizes: the scalar (non-vec4) variants
    const gu = uniformArray(rows * 2 * inter, 11, -4, 4);
    const xs = uniformArray(rows * inter, 12, -3, 3);
    const guT = gpu.upload(new Uint8Array(gu.buffer), [rows, 2 * inter], 'f32', 'gu');
    const xT = gpu.upload(new Uint8Array(xs.buffer), [rows, inter], 'f32', 'x');
    const out = gpu.tensor([rows, inter], 'f32', 'out');
    const y = gpu.tensor([rows, inter], 'f32', 'y');
    const nan = new Uint8Array(new Float32Array(rows * inter).fill(NaN).buffer); // poisoned outputs
    gpu.write(out, nan);
    gpu.write(y, nan);
    const rec = gpu.recorder();
    for (let i = 0; i < 3; i++) siluMul(rec, gpu, guT, out);
    gelu(rec, gpu, xT, y);
    const recorded = rec.dispatches;
    rec.submit();
    rec.release();
    expect(maxRelErr(await gpu.read(out), refSiluMul(gu, rows, inter))).toBeLessThan(1e-5); // f32 exp: ~1e-7
    expect(maxRelErr(await gpu.read(y), refGelu(xs))).toBeLessThan(1e-5);
    const times = await gpu.profiler!.collect();
    const byName = new Map(times.map((t) => [t.kernel, t]));
    // siluMul on odd widths is the plain variant; gelu's variants carry the GELU define (a vec4 body may add a tail).
    expect(byName.get('activation')!.dispatches).toBe(3);
    const geluVariants = times.filter((t) => t.kernel.startsWith('activation[GELU'));
    expect(geluVariants.length).toBeGreaterThan(0);
    expect(times.reduce((s, t) => s + t.dispatches, 0)).toBe(recorded);
    for (const t of times) expect(t.ms).toBeGreaterThan(0);
    await gpu.profiler!.reset();
    expect(await gpu.profiler!.collect()).toEqual([]);
  });

  it('asking for a profile without timestamp-query is a typed error', async () => {
    await expect(createNodeGpu({ profile: true, disable: { timestamp: true } })).rejects.toBeInstanceOf(MissingFeatureError);
  });
});
