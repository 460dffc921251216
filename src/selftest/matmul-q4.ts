// Self-test of the 4-bit linear op (kernels/matmul_vec_q4.wgsl, kernels/matmul_q4.wgsl) against the float64
// reference on the exactly dequantized weights.
import type { Gpu } from '../runtime/device.js';
import { encode, type ActDType } from '../runtime/dtype.js';
import { destroyQ4, linearQ4, packQ4, uploadQ4 } from '../ops/matmul-q4.js';
import { refLinear } from '../reference/matmul.js';
import { randomQ4, refDequantQ4, refQ4FoldedAbs } from '../reference/matmul-q4.js';
import { uniformArray } from '../util/random.js';
import { stored } from './elementwise-util.js';
import type { SelfTestCase } from './types.js';

interface Shape { m: number; n: number; k: number; group: number; bias: boolean; accumulate: boolean }

// M = 1 takes the matrix-vector kernel; odd row counts, several groups per row, group sizes 8, 32 and 40.
const SHAPES: readonly Shape[] = [
  { m: 1, n: 13, k: 96, group: 32, bias: true, accumulate: false },
  { m: 1, n: 9, k: 120, group: 40, bias: false, accumulate: true },
  { m: 5, n: 11, k: 64, group: 32, bias: true, accumulate: true },
  { m: 6, n: 7, k: 24, group: 8, bias: false, accumulate: false },
];

async function runCase(gpu: Gpu, s: Shape, act: ActDType, seed: number) {
  const q = randomQ4(s.n, s.k, s.group, seed);
  const x = stored(uniformArray(s.m * s.k, seed + 1, -1, 1), act);
  const b = s.bias ? uniformArray(s.n, seed + 2) : null;
  const y0 = s.accumulate ? stored(uniformArray(s.m * s.n, seed + 3), act) : null;
  const tx = gpu.upload(encode(x, act), [s.m, s.k], act, 'selftest x');
  const tw = uploadQ4(gpu, packQ4(q), s.n, s.k, s.group, 'selftest q4 w');
  const tb = b ? gpu.upload(encode(b, 'f32'), [s.n], 'f32', 'selftest bias') : null;
  const ty = gpu.tensor([s.m, s.n], act, 'selftest y');
  try {
    gpu.write(ty, y0 ? encode(y0, act) : encode(new Float32Array(s.m * s.n).fill(NaN), act));
    const rec = gpu.recorder();
    linearQ4(rec, gpu, tx, tw, tb, ty, { accumulate: s.accumulate });
    rec.submit();
    const got = await gpu.read(ty);
    const ref = refLinear(x, refDequantQ4(q), b, s.m, s.n, s.k, y0 ?? undefined);
    const abs = refLinear(Array.from(x, Math.abs), refQ4FoldedAbs(q), b && Array.from(b, Math.abs), s.m, s.n, s.k, y0 ? Array.from(y0, Math.abs) : undefined);
    // Per group Σ code·x and Σ x in f32, folded with the scale and zero point: |err| ≤ (K + groups + 4)·2⁻²⁴ times
    // the folded magnitudes (refQ4FoldedAbs); f16 outputs add half an ulp; factor 2 for the bound's rounding.
    const outUlp = act === 'f16' ? 2 ** -11 : 2 ** -24;
    let maxRelErr = 0;
    let ok = true;
    for (let i = 0; i < ref.length; i++) {
      const err = Math.abs(got[i]! - ref[i]!);
      const tol = 2 * ((s.k + s.k / s.group + 4) * 2 ** -24 * abs[i]! + outUlp * Math.abs(ref[i]!));
      if (!(err <= tol)) ok = false;
      maxRelErr = Math.max(maxRelErr, Number.isFinite(err) ? err / Math.max(abs[i]!, 1e-30) : Infinity);
    }
    return { ok, maxRelErr };
  } finally {
    ty.release();
    gpu.destroyTensor(tx);
    destroyQ4(gpu, tw);
    if (tb) gpu.destroyTensor(tb);
  }
}

function cases(): SelfTestCase[] {
  const out: SelfTestCase[] = [];
  let seed = 300;
  for (const act of ['f32', 'f16'] as const) {
    for (const s of SHAPES) {
      const caseSeed = (seed += 10);
      out.push({
        name: `linear q4 ${s.m === 1 ? 'matvec' : 'matmul'} x ${act} g${s.group} [${s.m}x${s.k}]·[${s.n}x${s.k}]ᵀ${s.bias ? ' +b' : ''}${s.accumulate ? ' accumulate' : ''}`,
        async run(gpu: Gpu) {
          if (act === 'f16' && !gpu.features.f16) return { ok: true, skipped: true, maxRelErr: 0, detail: 'needs shader-f16' };
          return runCase(gpu, s, act, caseSeed);
        },
      });
    }
  }
  return out;
}

export const selfTests: SelfTestCase[] = cases();
