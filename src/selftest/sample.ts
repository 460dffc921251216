// Self-test of argmax and top-p sampling (kernels/sample.wgsl) against the float64 reference.
import type { Gpu } from '../runtime/device.js';
import { argmax, NONFINITE_FLAG, sampleTopP, type TopPOptions } from '../ops/sample.js';
import { refArgmax, refHasNonFinite, refNucleus, refSampleTopP } from '../reference/sample.js';
import { upload } from './elementwise-util.js';
import { uniformArray } from '../util/random.js';
import type { SelfTestCase } from './types.js';

async function pick(gpu: Gpu, values: Float32Array, opts: TopPOptions | null): Promise<number> {
  const logits = upload(gpu, values, [values.length], 'f32');
  const out = gpu.tensor([1], 'u32', 'selftest-token');
  try {
    const rec = gpu.recorder();
    if (opts) sampleTopP(rec, gpu, logits, out, opts);
    else argmax(rec, gpu, logits, out);
    rec.submit();
    return (await gpu.readU32(out))[0]!;
  } finally {
    gpu.destroyTensor(logits);
    out.release();
  }
}

async function argmaxCase(gpu: Gpu) {
  const v = uniformArray(5000, 31, -5, 5);
  v[4321] = 9;
  v[777] = 9; // tie: the lower index wins
  v[12] = NaN;
  const got = await pick(gpu, v, null);
  const want = refArgmax(v) + (refHasNonFinite(v) ? NONFINITE_FLAG : 0); // v[12] is NaN: flagged
  return { ok: got === want, maxRelErr: got === want ? 0 : 1, detail: `argmax of 5000 logits: ${got}, reference ${want}` };
}

async function topPCase(gpu: Gpu) {
  const v = uniformArray(3000, 32, -4, 4);
  const temperature = 0.8;
  const nucleus = refNucleus(v, temperature, 0.9);
  // A uniform in the middle of each of a few CDF intervals: far from every boundary.
  const mismatches: string[] = [];
  let tried = 0;
  let lo = 0;
  for (const token of nucleus.tokens) {
    const hi = lo + nucleus.probs[token]! / nucleus.mass;
    if (tried < 6 && hi - lo > 1e-3 && token % 3 === 0) {
      const u = (lo + hi) / 2;
      const want = refSampleTopP(v, temperature, 0.9, u).token;
      const got = await pick(gpu, v, { temperature, topP: 0.9, uniform: u });
      if (got !== want) mismatches.push(`u=${u}: ${got} vs ${want}`);
      tried++;
    }
    lo = hi;
  }
  const ok = mismatches.length === 0 && tried > 0;
  return { ok, maxRelErr: ok ? 0 : 1, detail: `${tried} draws at fixed uniforms${mismatches.length ? `; mismatches ${mismatches.join(', ')}` : ''}` };
}

export const selfTests: SelfTestCase[] = [
  { name: 'sample/argmax', run: argmaxCase },
  { name: 'sample/top-p', run: topPCase },
];
