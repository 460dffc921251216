// Token selection ops (kernels/sample.wgsl): greedy argmax and temperature + top-p (nucleus) sampling on the GPU,
// so a decode step reads back one u32. Randomness is a uniform number from the caller's seeded CPU PRNG.
import type { Gpu } from '../runtime/device.js';
import { ShapeError } from '../runtime/errors.js';
import { f32, u32, type Recorder } from '../runtime/recorder.js';
import type { Tensor } from '../runtime/tensor.js';
import { actDtype, requireDtype } from './checks.js';

export interface TopPOptions {
  /** Softmax temperature, >= 0; 0 means greedy (argmax). */
  temperature: number;
  /** Nucleus mass in (0, 1]; 1 keeps every token with non-zero probability. */
  topP: number;
  /** A number in [0, 1) from a seeded CPU PRNG: the position in the nucleus CDF (index order). */
  uniform: number;
}

function record(rec: Recorder, gpu: Gpu, what: string, logits: Tensor, out: Tensor, greedy: boolean, invTemp: number,
  topP: number, uniform: number): void {
  const dtype = actDtype(gpu, what, logits);
  requireDtype(out, 'u32', `${what} out`);
  if (out.numel !== 1) throw new ShapeError(`${what}: out must hold exactly one u32, has ${out.numel}`);
  const n = logits.numel;
  if (n < 1 || logits.shape.slice(0, -1).some((d) => d !== 1)) {
    throw new ShapeError(`${what}: logits must be one non-empty row ([V] or [1, V]), got [${logits.shape}]`);
  }
  if (logits.part.buffer === out.part.buffer) throw new ShapeError(`${what}: logits and out share a GPU buffer`);
  const pipe = gpu.pipeline('sample', { defines: { ACT_F16: dtype === 'f16' } });
  rec.dispatch(pipe, [u32(n), u32(greedy ? 1 : 0), f32(invTemp), f32(topP), f32(uniform)], [logits, out], [1]);
}

/** Bit 31 of the word the sampler writes: some logit was NaN or +-inf (token ids are below 2^31). */
export const NONFINITE_FLAG = 0x80000000;

/** The token id in a word written by argmax / sampleTopP, and whether the row held a non-finite logit. */
export function sampledToken(word: number): { token: number; nonFinite: boolean } {
  return { token: word % NONFINITE_FLAG, nonFinite: word >= NONFINITE_FLAG };
}

/**
 * out[0] = the index of the largest logit (lowest index on ties; NaN logits ignored; all NaN -> 0), plus
 * NONFINITE_FLAG when any logit is NaN or +-inf.
 */
export function argmax(rec: Recorder, gpu: Gpu, logits: Tensor, out: Tensor): void {
  record(rec, gpu, 'argmax', logits, out, true, 1, 1, 0);
}

/**
 * out[0] = a token drawn from softmax(logits / temperature) restricted to the nucleus: the most probable tokens
 * whose total probability first reaches topP, together with every token tied with the least probable of them.
 * The draw is the inverse CDF of `uniform` over the nucleus in token-index order (not probability order), so a
 * fixed `uniform` gives a reproducible token. temperature 0 (or one so small that 1/T overflows f32) is argmax; a
 * row whose maximum is not finite also falls back to argmax. NONFINITE_FLAG is added as for argmax.
 */
export function sampleTopP(rec: Recorder, gpu: Gpu, logits: Tensor, out: Tensor, opts: TopPOptions): void {
  const { temperature, topP, uniform } = opts;
  if (!(temperature >= 0) || !Number.isFinite(temperature)) {
    throw new ShapeError(`sampleTopP: temperature must be finite and >= 0, got ${temperature}`);
  }
  if (!(topP > 0 && topP <= 1)) throw new ShapeError(`sampleTopP: topP must be in (0, 1], got ${topP}`);
  if (!(uniform >= 0 && uniform < 1)) throw new ShapeError(`sampleTopP: uniform must be in [0, 1), got ${uniform}`);
  const invTemp = Math.fround(1 / temperature);
  const greedy = !Number.isFinite(invTemp);
  record(rec, gpu, 'sampleTopP', logits, out, greedy, greedy ? 1 : invTemp, topP, uniform);
}
