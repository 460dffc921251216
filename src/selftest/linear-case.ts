// One case of the linear op against the float64 reference, for any weight kind (float: src/selftest/matmul.ts;
// 4-bit: src/selftest/matmul-q4.ts; the kernel tests in test/kernels/matmul*.test.ts): random inputs rounded to
// their storage dtypes, NaN-poisoned outputs (the start values when accumulating), and an element-wise bound on
// the kernel's f32 summation error. Platform-neutral.
import type { Gpu } from '../runtime/device.js';
import { encode, type ActDType } from '../runtime/dtype.js';
import type { Recorder } from '../runtime/recorder.js';
import type { Tensor } from '../runtime/tensor.js';
import { refLinear } from '../reference/matmul.js';
import { uniformArray } from '../util/random.js';
import { stored } from './elementwise-util.js';
import type { SelfTestCase } from './types.js';

/** y[m, n] (+)= x[m, k]·W[n, k]ᵀ (+ b[n]). */
export interface LinearCaseShape { m: number; n: number; k: number; bias: boolean; accumulate: boolean }

/** The weight side of a case: how it reaches the GPU and runs, and what the reference sees. */
export interface LinearCaseWeight<W> {
  /** W [n, k] row-major, exactly as the kernel means it (stored dtype, or dequantized codes). */
  values: ArrayLike<number>;
  /** Per element, the magnitude the kernel's f32 sums run over (|w|; 4-bit: |scale|·(code + zero)). */
  magnitudes: ArrayLike<number>;
  /** The kernel's summation bound: |err| ≤ rel·Σ|terms| (the terms' magnitudes from `magnitudes`, |x|, |b|, |y0|). */
  rel: number;
  upload(gpu: Gpu): W;
  destroy(gpu: Gpu, w: W): void;
  record(rec: Recorder, gpu: Gpu, x: Tensor, w: W, bias: Tensor | null, y: Tensor, accumulate: boolean): void;
}

export interface LinearCaseResult {
  ok: boolean;
  /** max |err| / Σ|terms| over the elements. */
  maxRelErr: number;
  /** The first element out of tolerance, described; null when every element is within. */
  mismatch: string | null;
}

/** `linear … [MxK]·[NxK]ᵀ +b accumulate`: the self-test name of a case (`weight`: e.g. `w bf16`, `w q4 g32`). */
export function linearCaseName(s: LinearCaseShape, act: ActDType, weight: string): string {
  return `linear ${s.m === 1 ? 'matvec' : 'matmul'} x ${act} ${weight} [${s.m}x${s.k}]·[${s.n}x${s.k}]ᵀ` +
    `${s.bias ? ' +b' : ''}${s.accumulate ? ' accumulate' : ''}`;
}

/**
 * Run one case: x from `seed`, bias from seed + 2, start values from seed + 3 (the weight's own seed is the caller's,
 * seed + 1 by convention). Tolerance per element: 2·(rel·Σ|terms| + outUlp·|y|), where an f16 output adds half an
 * ulp (2⁻¹¹) and the factor 2 covers the rounding of the bound itself. A wrong index, code, scale or missing term
 * is off by the order of a term and fails.
 */
export async function runLinearCase<W>(gpu: Gpu, s: LinearCaseShape, act: ActDType, seed: number,
  weight: LinearCaseWeight<W>): Promise<LinearCaseResult> {
  const x = stored(uniformArray(s.m * s.k, seed), act);
  const b = s.bias ? uniformArray(s.n, seed + 2) : null;
  const y0 = s.accumulate ? stored(uniformArray(s.m * s.n, seed + 3), act) : null;
  const tx = gpu.upload(encode(x, act), [s.m, s.k], act, 'linear case x');
  const tw = weight.upload(gpu);
  const tb = b ? gpu.upload(encode(b, 'f32'), [s.n], 'f32', 'linear case bias') : null;
  const ty = gpu.tensor([s.m, s.n], act, 'linear case y');
  try {
    // Unwritten outputs must fail: NaN unless accumulating (then the start values).
    gpu.write(ty, encode(y0 ?? new Float32Array(s.m * s.n).fill(NaN), act));
    const rec = gpu.recorder();
    weight.record(rec, gpu, tx, tw, tb, ty, s.accumulate);
    rec.submit();
    const got = await gpu.read(ty);
    const ref = refLinear(x, weight.values, b, s.m, s.n, s.k, y0 ?? undefined);
    const abs = refLinear(Array.from(x, Math.abs), weight.magnitudes, b && Array.from(b, Math.abs), s.m, s.n, s.k,
      y0 ? Array.from(y0, Math.abs) : undefined);
    const outUlp = act === 'f16' ? 2 ** -11 : 2 ** -24;
    let maxRelErr = 0;
    let mismatch: string | null = null;
    for (let i = 0; i < ref.length; i++) {
      const err = Math.abs(got[i]! - ref[i]!);
      const tol = 2 * (weight.rel * abs[i]! + outUlp * Math.abs(ref[i]!));
      if (!(err <= tol) && mismatch === null) {
        mismatch = `y[${Math.floor(i / s.n)}, ${i % s.n}] = ${got[i]}, reference ${ref[i]} (tolerance ${tol})`;
      }
      maxRelErr = Math.max(maxRelErr, Number.isFinite(err) ? err / Math.max(abs[i]!, 1e-30) : Infinity);
    }
    return { ok: mismatch === null, maxRelErr, mismatch };
  } finally {
    ty.release();
    gpu.destroyTensor(tx);
    weight.destroy(gpu, tw);
    if (tb) gpu.destroyTensor(tb);
  }
}

/** Self-test cases for f32 and f16 activations (f16 skipped without shader-f16), seeds 10 apart from `seed0`. */
export function linearSelfTests<W>(seed0: number,
  entries: readonly { shape: LinearCaseShape; weightName: string; weight(seed: number): LinearCaseWeight<W> }[]): SelfTestCase[] {
  const out: SelfTestCase[] = [];
  let seed = seed0;
  for (const act of ['f32', 'f16'] as const) {
    for (const e of entries) {
      const caseSeed = (seed += 10);
      out.push({
        name: linearCaseName(e.shape, act, e.weightName),
        async run(gpu: Gpu) {
          if (act === 'f16' && !gpu.features.f16) return { ok: true, skipped: true, maxRelErr: 0, detail: 'needs shader-f16' };
          const r = await runLinearCase(gpu, e.shape, act, caseSeed, e.weight(caseSeed + 1));
          return { ok: r.ok, maxRelErr: r.maxRelErr, ...(r.mismatch ? { detail: r.mismatch } : {}) };
        },
      });
    }
  }
  return out;
}
