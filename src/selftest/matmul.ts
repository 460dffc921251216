// Self-test of the linear op (kernels/matmul_vec.wgsl, kernels/matmul.wgsl) against the float64 reference.
import type { Gpu } from '../runtime/device.js';
import { encode, type ActDType, type WeightDType } from '../runtime/dtype.js';
import { linear } from '../ops/matmul.js';
import { refLinear, refLinearAbs } from '../reference/matmul.js';
import { uniformArray } from '../util/random.js';
import { stored } from './elementwise-util.js';
import type { SelfTestCase } from './types.js';

interface Shape { m: number; n: number; k: number; bias: boolean; accumulate: boolean }

// M = 1 takes the matrix-vector kernel; K = 40 and 36 take the vectorised loops, K = 7 the element-wise ones.
const SHAPES: readonly Shape[] = [
  { m: 1, n: 13, k: 40, bias: true, accumulate: false },
  { m: 1, n: 9, k: 7, bias: false, accumulate: true },
  { m: 5, n: 11, k: 36, bias: true, accumulate: true },
  { m: 6, n: 7, k: 7, bias: false, accumulate: false },
];
const WEIGHTS: readonly WeightDType[] = ['bf16', 'f16', 'f32'];

async function runCase(gpu: Gpu, s: Shape, wd: WeightDType, act: ActDType, seed: number) {
  const x = stored(uniformArray(s.m * s.k, seed), act);
  const w = stored(uniformArray(s.n * s.k, seed + 1), wd);
  const b = s.bias ? uniformArray(s.n, seed + 2) : null;
  const y0 = s.accumulate ? stored(uniformArray(s.m * s.n, seed + 3), act) : null;
  const tx = gpu.upload(encode(x, act), [s.m, s.k], act, 'selftest x');
  const tw = gpu.upload(encode(w, wd), [s.n, s.k], wd, 'selftest w');
  const tb = b ? gpu.upload(encode(b, 'f32'), [s.n], 'f32', 'selftest bias') : null;
  const ty = gpu.tensor([s.m, s.n], act, 'selftest y');
  try {
    // Unwritten outputs must fail: NaN unless accumulating (then the start values).
    gpu.write(ty, y0 ? encode(y0, act) : encode(new Float32Array(s.m * s.n).fill(NaN), act));
    const rec = gpu.recorder();
    linear(rec, gpu, tx, tw, tb, ty, { accumulate: s.accumulate });
    rec.submit();
    const got = await gpu.read(ty);
    const ref = refLinear(x, w, b, s.m, s.n, s.k, y0 ?? undefined);
    const abs = refLinearAbs(x, w, b, s.m, s.n, s.k, y0 ?? undefined);
    // f32 accumulation in any order: |err| ≤ (K + 2)·2⁻²⁴·Σ|terms| (products, K-1 additions, bias, y0); an f16
    // output adds half an ulp, 2⁻¹¹·|y|. Factor 2 of slack for the rounding of the bound itself.
    const outUlp = act === 'f16' ? 2 ** -11 : 2 ** -24;
    let maxRelErr = 0;
    let ok = true;
    for (let i = 0; i < ref.length; i++) {
      const err = Math.abs(got[i]! - ref[i]!);
      const tol = 2 * ((s.k + 2) * 2 ** -24 * abs[i]! + outUlp * Math.abs(ref[i]!));
      if (!(err <= tol)) ok = false;
      maxRelErr = Math.max(maxRelErr, Number.isFinite(err) ? err / Math.max(abs[i]!, 1e-30) : Infinity);
    }
    return { ok, maxRelErr };
  } finally {
    ty.release();
    gpu.destroyTensor(tx);
    gpu.destroyTensor(tw);
    if (tb) gpu.destroyTensor(tb);
  }
}

function cases(): SelfTestCase[] {
  const out: SelfTestCase[] = [];
  let seed = 100;
  for (const act of ['f32', 'f16'] as const) {
    for (const wd of WEIGHTS) {
      for (const s of SHAPES) {
        const caseSeed = (seed += 10);
        const name = `linear ${s.m === 1 ? 'matvec' : 'matmul'} x ${act} w ${wd} [${s.m}x${s.k}]·[${s.n}x${s.k}]ᵀ` +
          `${s.bias ? ' +b' : ''}${s.accumulate ? ' accumulate' : ''}`;
        out.push({
          name,
          async run(gpu: Gpu) {
            if (act === 'f16' && !gpu.features.f16) return { ok: true, skipped: true, maxRelErr: 0, detail: 'needs shader-f16' };
            return runCase(gpu, s, wd, act, caseSeed);
          },
        });
      }
    }
  }
  return out;
}

export const selfTests: SelfTestCase[] = cases();
