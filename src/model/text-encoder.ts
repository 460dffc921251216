// The frozen Qwen3 inquiry encoder and text_proj (spec §4). Each inquiry runs unpadded at positions 0..n-1: the
// encoder is causal and its RoPE relative, so this equals the reference's right-padded batch on the valid rows.
import type { Gpu } from '../runtime/device.js';
import type { ActDType } from '../runtime/dtype.js';
import { ShapeError } from '../runtime/errors.js';
import type { Tensor } from '../runtime/tensor.js';
import { linear } from '../ops/matmul.js';
import { rmsNorm, headRmsNorm } from '../ops/rmsnorm.js';
import { siluMul } from '../ops/activation.js';
import { applyRope } from '../ops/rope.js';
import { causalAttention } from '../ops/attention.js';
import type { StridedView } from '../ops/view.js';
import type { TextEncoderConfig } from './config.js';
import type { DecoderWeights, LinearWeights } from './weights.js';
import { ropeTable1d } from '../ops/rope-tables.js';
import { embedTokens } from './host-embedding.js';
import { uploadF32, uploadU32 } from './gpu-util.js';

export interface TextEncoderCapture {
  layers?: Float32Array[];
  lastHidden?: Float32Array;
}

export class TextEncoder {
  constructor(
    private readonly gpu: Gpu,
    readonly cfg: TextEncoderConfig,
    private readonly w: DecoderWeights,
    private readonly proj: LinearWeights,
    readonly act: ActDType,
  ) {}

  /** Valid (unpadded) inquiry ids -> text_proj features [n, projOut] (act). */
  async encode(ids: readonly number[], capture?: TextEncoderCapture): Promise<Tensor> {
    const { gpu, cfg, w, act } = this;
    const T = ids.length;
    if (T === 0) throw new ShapeError('an inquiry with no valid tokens has no features (skip it: zero text keys)');
    for (const id of ids) if (!Number.isInteger(id) || id < 0 || id >= cfg.vocab) throw new ShapeError(`inquiry token id ${id} outside the vocabulary of ${cfg.vocab}`);
    const D = cfg.hidden;
    const hd = cfg.headDim;
    const Hq = cfg.heads;
    const Hkv = cfg.kvHeads;
    const I = cfg.intermediate;
    const rec = gpu.recorder();
    const temps: Tensor[] = [];
    const tmp = (shape: number[], label: string) => { const t = gpu.tensor(shape, act, label); temps.push(t); return t; };
    const tables: Tensor[] = [];
    try {
      const idsT = uploadU32(gpu, ids, 'te.ids'); tables.push(idsT);
      const rope = uploadF32(gpu, ropeTable1d(Int32Array.from({ length: T }, (_, i) => i), hd, cfg.ropeTheta), [T, hd], 'te.rope'); tables.push(rope);
      const x = tmp([T, D], 'te.x');
      const h = tmp([T, D], 'te.h');
      const qkv = tmp([T, (Hq + 2 * Hkv) * hd], 'te.qkv');
      const W = qkv.rowSize;
      const q: StridedView = { t: qkv, stride: W, offset: 0 };
      const k: StridedView = { t: qkv, stride: W, offset: Hq * hd };
      const v: StridedView = { t: qkv, stride: W, offset: (Hq + Hkv) * hd };
      const o = tmp([T, Hq * hd], 'te.o');
      const gu = tmp([T, 2 * I], 'te.gu');
      const a = tmp([T, I], 'te.a');
      embedTokens(rec, gpu, w.embed, ids, idsT, x, tables);
      const layers: Float32Array[] = [];
      for (const L of w.layers) {
        rmsNorm(rec, gpu, x, L.inputNorm, h, cfg.rmsEps);
        linear(rec, gpu, h, L.qkv.w, L.qkv.b, qkv);
        headRmsNorm(rec, gpu, q, Hq, hd, T, L.qNorm!, cfg.rmsEps);
        headRmsNorm(rec, gpu, k, Hkv, hd, T, L.kNorm!, cfg.rmsEps);
        // q and k heads are adjacent in qkv: one rotation call for both.
        applyRope(rec, gpu, q, T, Hq + Hkv, hd, rope);
        causalAttention(rec, gpu, { q, rows: T, k, v, past: 0, heads: Hq, kvHeads: Hkv, headDim: hd, scale: 1 / Math.sqrt(hd), out: o });
        linear(rec, gpu, o, L.o.w, L.o.b, x, { accumulate: true });
        rmsNorm(rec, gpu, x, L.postNorm, h, cfg.rmsEps);
        linear(rec, gpu, h, L.gateUp.w, L.gateUp.b, gu);
        siluMul(rec, gpu, gu, a);
        linear(rec, gpu, a, L.down.w, L.down.b, x, { accumulate: true });
        if (capture) { rec.submit(); layers.push(await gpu.read(x)); }
      }
      if (capture) capture.layers = layers;
      rmsNorm(rec, gpu, x, w.norm, h, cfg.rmsEps);
      if (capture) { rec.submit(); capture.lastHidden = await gpu.read(h); }
      const out = gpu.tensor([T, this.proj.w.shape[0]!], act, 'te.features');
      linear(rec, gpu, h, this.proj.w, this.proj.b, out);
      rec.submit();
      return out;
    } finally {
      rec.release();
      for (const t of temps) t.release();
      for (const t of tables) t.release();
    }
  }
}
