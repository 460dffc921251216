// The ViLaVT vision encoder on the GPU (spec §3): patch embed, 2-D RoPE with in-group offsets, window
// permutation, the per-block schedule (window / per-image full / QA joint attention whose keys and values also
// hold the group's projected inquiry tokens), the patch merger and the un-permutation. One call encodes any number
// of images in any number of contiguous query groups; each group's output depends only on that group.
import { checkpointAbort } from '../runtime/cancel.js';

/**
 * Query-key pairs per cancellable attention piece: ~0.1-0.3 s on lavapipe (measured: 41M pairs of one full-attention
 * block over 6440 patches took 7-8 s on this 2-core machine under load), far less on a GPU.
 */
const ATTENTION_PAIRS_PER_PIECE = 1 << 21;
/** Keys a window-attention row sees at most: a 112-pixel window of 14-pixel patches (64), with margin. */
const WINDOW_KEYS_BOUND = 256;
import type { Gpu } from '../runtime/device.js';
import { encode, type ActDType } from '../runtime/dtype.js';
import { ShapeError, VilavtError } from '../runtime/errors.js';
import type { Recorder } from '../runtime/recorder.js';
import type { Tensor } from '../runtime/tensor.js';
import { linear, type LinearWeight } from '../ops/matmul.js';
import { rmsNorm } from '../ops/rmsnorm.js';
import { siluMul, gelu } from '../ops/activation.js';
import { applyRope } from '../ops/rope.js';
import { segmentedAttention, segmentedTileRows } from '../ops/attention.js';
import { gatherRows, scatterRows } from '../ops/rows.js';
import { columns, rowsOf } from '../ops/view.js';
import type { VisionConfig } from './config.js';
import type { LinearWeights, VisionWeights } from './weights.js';
import { planVisionCall, visionBlockSchedule, type GridThw, type VisionPlan } from './vision-plan.js';
import { visionRopeTable, inquiryRopeTable } from '../ops/rope-tables.js';
import { chunkRows, rowGranularity, sliceRows, uploadF32, uploadU32 } from './gpu-util.js';

export interface VisionImage {
  /** [gh*gw, C*T*P*P] normalized patches in 2x2-merge order (src/preprocess/patchify.ts). */
  pixelValues: Float32Array;
  grid: GridThw;
}

export interface VisionCall {
  images: readonly VisionImage[];
  /** Contiguous, increasing query-group id per image. */
  imageGroup: readonly number[];
  /** Per group: its inquiry features [n_g, hidden] (text_proj output) or null for no inquiry. */
  inquiries: readonly (Tensor | null)[];
  /**
   * Per group: shift of the inquiry keys' rotary positions (default 0 = right padding, the canonical engine).
   * Only to reproduce a left-padded reference batch, whose valid slots sit after the pads.
   */
  inquiryPositionOffset?: readonly number[];
  /** Checked between blocks (each block is then its own submit): an abort takes effect within one block. */
  signal?: AbortSignal;
}

/** Intermediates for golden comparisons (window order where the reference keeps window order). */
export interface VisionCapture {
  plan?: VisionPlan;
  patchEmbed?: Float32Array;
  blocks?: Float32Array[];
  mergedWindowOrder?: Float32Array;
}

export class VisionEncoder {
  private readonly schedule;

  constructor(private readonly gpu: Gpu, readonly cfg: VisionConfig, private readonly w: VisionWeights, readonly act: ActDType) {
    this.schedule = visionBlockSchedule(cfg);
  }

  /** Plan for a call (integer tables only; no GPU work). */
  plan(call: VisionCall): VisionPlan {
    const groups = new Set(call.imageGroup).size;
    if (call.inquiries.length !== groups) throw new ShapeError(`${call.inquiries.length} inquiries for ${groups} query groups`);
    return planVisionCall({
      grids: call.images.map((i) => i.grid),
      imageGroup: call.imageGroup,
      groupTextTokens: call.inquiries.map((e) => (e ? e.rows : 0)),
      windowSize: this.cfg.windowSize,
      patchSize: this.cfg.patchSize,
      mergeSize: this.cfg.mergeSize,
    });
  }

  /** Encode one call; returns [numMerged, outHidden] features, images in order, merged rows row-major. */
  async encode(call: VisionCall, capture?: VisionCapture): Promise<Tensor> {
    const { gpu, cfg, w, act } = this;
    const plan = this.plan(call);
    if (capture) capture.plan = plan;
    const N = plan.numPatches;
    const D = cfg.hidden;
    const I = cfg.intermediate;
    const H = cfg.heads;
    const hd = cfg.headDim;
    const unit = plan.mergeUnit;
    const patchDim = w.patchEmbed.shape[1]!;
    // The residual stream and q/k/v [N, D] are bound whole (attention spans whole images and groups).
    const maxPatches = Math.floor(gpu.maxBindingBytes / (D * (act === 'f32' ? 4 : 2)));
    if (N > maxPatches) {
      throw new VilavtError('image-too-large', `this vision call has ${N} patches (${plan.numMerged} visual tokens); with ${act} ` +
        `activations one call holds at most ${maxPatches} on this adapter (binding limit ${gpu.maxBindingBytes} bytes)` +
        `${act === 'f32' && gpu.features.f16 ? ': use f16 activations (--f16)' : ''} or a smaller image budget`);
    }
    for (const img of call.images) {
      const n = img.grid[0] * img.grid[1] * img.grid[2];
      if (img.pixelValues.length !== n * patchDim) throw new ShapeError(`pixel values of grid [${img.grid}] need ${n}x${patchDim} values, got ${img.pixelValues.length}`);
    }

    const pooled: Tensor[] = [];
    const keep = (t: Tensor): Tensor => { pooled.push(t); return t; };
    const pixels = new Float32Array(N * patchDim);
    let at = 0;
    for (const img of call.images) { pixels.set(img.pixelValues, at); at += img.pixelValues.length; }

    const rec = gpu.recorder();
    const flush = async (t: Tensor): Promise<Float32Array> => { rec.submit(); return gpu.read(t); };
    try {
      // Patch embed (a Conv3d whose stride equals its kernel is a matmul over flattened patches). The pixels
      // are the widest input (1176 per patch), so they go up in row chunks that fit one binding.
      const embedded = keep(gpu.tensor([N, D], act, 'vit.embed'));
      const eb = act === 'f32' ? 4 : 2;
      const granule = rowGranularity(gpu, [D * eb]);
      // With a signal, chunks of at most ~2048 patches (a granule multiple): each is a cancellable submit.
      const pc = Math.min(chunkRows(gpu, N, patchDim * eb, granule), call.signal ? Math.max(granule, 2048 - (2048 % granule)) : Infinity);
      const px = keep(gpu.tensor([pc, patchDim], act, 'vit.pixels'));
      for (let r = 0; r < N; r += pc) {
        const n = Math.min(pc, N - r);
        const chunk = n === pc ? px : sliceRows(gpu, px, 0, n);
        gpu.write(chunk, encode(pixels.subarray(r * patchDim, (r + n) * patchDim), act));
        linear(rec, gpu, chunk, w.patchEmbed, null, n === N ? embedded : sliceRows(gpu, embedded, r, n));
        rec.submit(); // the next chunk overwrites the staging rows
        await checkpointAbort(gpu, rec, call.signal);
      }
      if (capture) capture.patchEmbed = await flush(embedded);

      // Window permutation of merged units (4 patch rows each); rotary tables follow the permuted order.
      const windowIndex = keep(uploadU32(gpu, plan.windowIndex, 'vit.windowIndex'));
      const x = keep(gpu.tensor([N, D], act, 'vit.x'));
      gatherRows(rec, gpu, embedded, windowIndex, x, unit);
      const rope = keep(uploadF32(gpu, visionRopeTable(plan.posIdsWindowOrder, hd, cfg.ropeTheta), [N, hd], 'vit.rope'));

      const cuWindow = keep(uploadU32(gpu, plan.cuWindowSeqlens, 'vit.cuWindow'));
      const cuImage = keep(uploadU32(gpu, plan.cuSeqlens, 'vit.cuImage'));
      const cuGroup = keep(uploadU32(gpu, plan.cuSeqlensQ, 'vit.cuGroup'));

      // Inquiry tokens of all groups, concatenated, with their rotary table (same position on both axes).
      const textRows = call.inquiries.reduce((s, e) => s + (e ? e.rows : 0), 0);
      let text: { e: Tensor; kv: Tensor; rope: Tensor; cu: Tensor } | null = null;
      if (textRows > 0 && this.schedule.includes('qa')) {
        const e = keep(gpu.tensor([textRows, D], act, 'vit.inquiry'));
        let r = 0;
        const cu: number[] = [0];
        const positions: number[] = [];
        call.inquiries.forEach((q, g) => {
          if (q) {
            if (q.shape[1] !== D || q.dtype !== act) throw new ShapeError(`inquiry of group ${g} must be [n, ${D}] ${act}, got [${q.shape}] ${q.dtype}`);
            rec.copy(q.buffer, q.part.byteOffset, e.buffer, r * D * (act === 'f32' ? 4 : 2), q.rows * D * (act === 'f32' ? 4 : 2));
            r += q.rows;
            const shift = call.inquiryPositionOffset?.[g] ?? 0;
            for (const p of plan.inquiryPos[g]!) positions.push(p + shift);
          }
          cu.push(r);
        });
        text = {
          e,
          kv: keep(gpu.tensor([textRows, 2 * D], act, 'vit.inquiryKv')),
          rope: keep(uploadF32(gpu, inquiryRopeTable(Int32Array.from(positions), hd, cfg.ropeTheta), [textRows, hd], 'vit.inquiryRope')),
          cu: keep(uploadU32(gpu, cu, 'vit.cuText')),
        };
      }

      const h = keep(gpu.tensor([N, D], act, 'vit.h'));
      const q = keep(gpu.tensor([N, D], act, 'vit.q'));
      const k = keep(gpu.tensor([N, D], act, 'vit.k'));
      const v = keep(gpu.tensor([N, D], act, 'vit.v'));
      const o = keep(gpu.tensor([N, D], act, 'vit.o'));
      const scale = 1 / Math.sqrt(hd);
      const blocks: Float32Array[] = [];

      const tileRows = segmentedTileRows(gpu, H, H);
      const totalTiles = Math.ceil(N / tileRows);
      for (let i = 0; i < cfg.depth; i++) {
        const b = w.blocks[i]!;
        const kind = this.schedule[i]!;
        rmsNorm(rec, gpu, x, b.norm1, h, cfg.rmsEps);
        this.linearChunked(rec, h, b.q.w, b.q.b, q, false);
        this.linearChunked(rec, h, b.k.w, b.k.b, k, false);
        this.linearChunked(rec, h, b.v.w, b.v.b, v, false);
        applyRope(rec, gpu, rowsOf(q), N, H, hd, rope);
        applyRope(rec, gpu, rowsOf(k), N, H, hd, rope);
        if (kind === 'qa' && text && b.instructKv) {
          linear(rec, gpu, text.e, b.instructKv.w, b.instructKv.b, text.kv);
          applyRope(rec, gpu, columns(text.kv, 0, D), textRows, H, hd, text.rope);
        }
        // Attention is the long part (quadratic in a whole image's patches): with a signal it goes in pieces of
        // row tiles, each its own submit, so an abort waits for one piece, not one block.
        const keysPerRow = kind === 'window' ? WINDOW_KEYS_BOUND : N;
        const pieceTiles = call.signal ? Math.max(1, Math.floor(ATTENTION_PAIRS_PER_PIECE / (tileRows * keysPerRow))) : totalTiles;
        for (let first = 0; first < totalTiles; first += pieceTiles) {
          const base = { q: rowsOf(q), k: rowsOf(k), v: rowsOf(v), heads: H, kvHeads: H, headDim: hd, scale, out: o, tiles: { first, count: pieceTiles } };
          if (kind === 'window') {
            segmentedAttention(rec, gpu, { ...base, cuQ: cuWindow, cuKv: cuWindow });
          } else if (kind === 'full') {
            segmentedAttention(rec, gpu, { ...base, cuQ: cuImage, cuKv: cuImage });
          } else if (text && b.instructKv) {
            // QA: each group's image tokens attend jointly to the group's image keys plus its inquiry keys.
            segmentedAttention(rec, gpu, {
              ...base, cuQ: cuGroup, cuKv: cuGroup,
              extra: { k: columns(text.kv, 0, D), v: columns(text.kv, D, D), cu: text.cu },
            });
          } else {
            // QA block without any inquiry tokens: joint attention over each group's images.
            segmentedAttention(rec, gpu, { ...base, cuQ: cuGroup, cuKv: cuGroup });
          }
          if (first + pieceTiles < totalTiles) await checkpointAbort(gpu, rec, call.signal);
        }
        this.linearChunked(rec, o, b.proj.w, b.proj.b, x, true);
        rmsNorm(rec, gpu, x, b.norm2, h, cfg.rmsEps);
        this.mlpChunked(rec, h, b.gateUp, b.down, x, I);
        if (capture) blocks.push(await flush(x));
        await checkpointAbort(gpu, rec, call.signal);
      }
      if (capture) capture.blocks = blocks;

      // Merger: RMSNorm, then each merged unit's 4 consecutive rows as one 4D-vector through the 2-layer MLP.
      const M = plan.numMerged;
      rmsNorm(rec, gpu, x, w.mergerNorm, h, cfg.rmsEps);
      const hidden = keep(gpu.tensor([M, unit * D], act, 'vit.merger.hidden'));
      const merged = keep(gpu.tensor([M, cfg.outHidden], act, 'vit.merged'));
      this.linearChunked(rec, h.view([M, unit * D]), w.merger0.w, w.merger0.b, hidden, false);
      gelu(rec, gpu, hidden, hidden);
      this.linearChunked(rec, hidden, w.merger2.w, w.merger2.b, merged, false);
      if (capture) capture.mergedWindowOrder = await flush(merged);
      const out = gpu.tensor([M, cfg.outHidden], act, 'vit.features');
      scatterRows(rec, gpu, merged, windowIndex, out, 1);
      rec.submit();
      return out;
    } finally {
      rec.release();
      for (const t of pooled) t.release();
    }
  }

  /** y (+)= x·wᵀ + b in row chunks so no activation exceeds the binding limit. */
  private linearChunked(rec: Recorder, x: Tensor, w: LinearWeight, b: Tensor | null, y: Tensor, accumulate: boolean): void {
    const { gpu } = this;
    const eb = this.act === 'f32' ? 4 : 2;
    const rows = x.rows;
    const c = chunkRows(gpu, rows, Math.max(x.rowSize, y.rowSize) * eb, rowGranularity(gpu, [x.rowSize * eb, y.rowSize * eb]));
    if (c >= rows) { linear(rec, gpu, x, w, b, y, { accumulate }); return; }
    for (let r = 0; r < rows; r += c) {
      const n = Math.min(c, rows - r);
      linear(rec, gpu, sliceRows(gpu, x, r, n), w, b, sliceRows(gpu, y, r, n), { accumulate });
    }
  }

  /** x += down(silu(gate(h)) ⊙ up(h)) in row chunks (the [rows, 2I] intermediate is the largest activation). */
  private mlpChunked(rec: Recorder, h: Tensor, gateUp: LinearWeights, down: LinearWeights, x: Tensor, I: number): void {
    const { gpu } = this;
    const eb = this.act === 'f32' ? 4 : 2;
    const rows = h.rows;
    const D = h.rowSize;
    const c = chunkRows(gpu, rows, 2 * I * eb, rowGranularity(gpu, [D * eb, 2 * I * eb, I * eb]));
    const gu = gpu.tensor([c, 2 * I], this.act, 'vit.gateUp');
    const a = gpu.tensor([c, I], this.act, 'vit.act');
    for (let r = 0; r < rows; r += c) {
      const n = Math.min(c, rows - r);
      const hs = n === rows ? h : sliceRows(gpu, h, r, n);
      const xs = n === rows ? x : sliceRows(gpu, x, r, n);
      const gus = n === c ? gu : sliceRows(gpu, gu, 0, n);
      const as = n === c ? a : sliceRows(gpu, a, 0, n);
      linear(rec, gpu, hs, gateUp.w, gateUp.b, gus);
      siluMul(rec, gpu, gus, as);
      linear(rec, gpu, as, down.w, down.b, xs, { accumulate: true });
    }
    gu.release();
    a.release();
  }
}
