// Shared GPU access for tests. Devices are cached per feature path and kept strongly referenced for the life of
// the worker (Dawn crashes when its GPU object is garbage-collected).
import { Gpu } from '../../src/runtime/device.js';
import { createNodeGpu } from '../../src/platform/node.js';
import { encode, type DType } from '../../src/runtime/dtype.js';
import type { Tensor } from '../../src/runtime/tensor.js';
import { maxRelErr } from '../../src/util/rel-err.js';

export interface FeaturePath {
  readonly name: 'core' | 'f16';
  /** Allow shader-f16 and subgroups (when the adapter has them). */
  readonly optional: boolean;
}

export const CORE: FeaturePath = { name: 'core', optional: false };
export const F16: FeaturePath = { name: 'f16', optional: true };

const devices = new Map<string, Promise<Gpu>>();
const keep: Gpu[] = [];

export function getGpu(path: FeaturePath = CORE, opts: { maxBindingBytes?: number; kernelLayout?: 'cpu' | 'gpu' } = {}): Promise<Gpu> {
  const key = `${path.name}:${opts.maxBindingBytes ?? ''}:${opts.kernelLayout ?? ''}`;
  let p = devices.get(key);
  if (!p) {
    p = createNodeGpu({
      disable: path.optional ? {} : { f16: true, subgroups: true },
      maxBindingBytes: opts.maxBindingBytes,
      kernelLayout: opts.kernelLayout,
    }).then((g) => { keep.push(g); return g; });
    devices.set(key, p);
  }
  return p;
}

/**
 * Feature paths this adapter supports: `core` always; `f16` when the adapter offers shader-f16 (the f16 path
 * also enables subgroups when present). Set VILAVT_TEST_PATHS=core to restrict.
 */
export async function featurePaths(): Promise<FeaturePath[]> {
  const only = process.env.VILAVT_TEST_PATHS;
  const g = await getGpu(F16);
  const paths: FeaturePath[] = [CORE];
  if (g.features.f16) paths.push(F16);
  return only ? paths.filter((p) => only.split(',').includes(p.name)) : paths;
}

/** Fill a tensor with NaN (or 0xFFFFFFFF words for integer tensors) so unwritten elements fail comparisons. */
export function poison(gpu: Gpu, t: Tensor): void {
  const bytes = new Uint8Array(t.part.byteLength);
  const words = new Uint32Array(bytes.buffer);
  const nan16 = 0x7e00; // f16 NaN; bf16 0x7fc0 — both read back as NaN
  const fill = t.dtype === 'f32' ? 0x7fc00000 : t.dtype === 'f16' ? (nan16 | (nan16 << 16)) >>> 0
    : t.dtype === 'bf16' ? (0x7fc0 | (0x7fc0 << 16)) >>> 0 : 0xffffffff;
  words.fill(fill);
  gpu.write(t, bytes);
}

/** Upload f32 values as a persistent tensor of `dtype`. */
export function uploadValues(gpu: Gpu, values: ArrayLike<number>, shape: readonly number[], dtype: DType, label = 'test'): Tensor {
  return gpu.upload(encode(values, dtype), shape, dtype, label);
}

/** max |got - ref| / max |ref| (src/util/rel-err.ts): Infinity for NaN in `got`, so poisoned elements fail. */
export function relError(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (got.length !== ref.length) throw new Error(`length ${got.length} != ${ref.length}`);
  return maxRelErr(got, ref);
}

/** Largest element-wise error relative to (|ref| + atol). */
export function maxScaledError(got: ArrayLike<number>, ref: ArrayLike<number>, atol: number): number {
  let worst = 0;
  for (let i = 0; i < ref.length; i++) {
    const g = got[i]!;
    if (!Number.isFinite(g)) return Infinity;
    worst = Math.max(worst, Math.abs(g - ref[i]!) / (Math.abs(ref[i]!) + atol));
  }
  return worst;
}
