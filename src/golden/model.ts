// Runs a golden "scenario" folder (DIR/scenarios.json + DIR/<scenario>.safetensors + DIR/checkpoint/) through the
// engine and compares every output and every intermediate the engine has. Scenarios are recognised by the tensors
// they hold, not by their names, so any case folder of this format runs (other dimensions, tied heads, shards,
// several regions, GQA ratios).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Gpu } from '../runtime/device.js';
import type { ActDType } from '../runtime/dtype.js';
import type { Tensor } from '../runtime/tensor.js';
import { SafetensorsFile } from '../model/safetensors.js';
import { fileSource, openCheckpointDir } from '../platform/node-file.js';
import { VilavtModel } from '../model/vilavt-model.js';
import { MropePositions, mergedGridOf } from '../model/mrope.js';
import type { GridThw } from '../model/vision-plan.js';
import { activationFrom } from '../model/gpu-util.js';
import { visionRopeTable, mropeTable } from '../ops/rope-tables.js';
import { gelu, siluMul } from '../ops/activation.js';
import { maxRelErr } from '../util/rel-err.js';

export interface GoldenResult { ok: boolean; lines: string[] }

/** Tolerances (max|out-ref| / max|ref|), see test/fixtures/golden/tiny-a/README.md "Tolerances". */
export const TOLERANCE = {
  f32: { vision: 1e-4, text: 1e-4, logits: 1e-4, ops: 1e-5 },
  // f16 activations (weights stay bf16, accumulation f32): the README's suggested bounds, 3-6x its measured drift.
  f16: { vision: 5e-3, text: 5e-3, logits: 3e-2, ops: 1e-3 },
} as const;

type Kind = keyof typeof TOLERANCE.f32;

class Scenario {
  constructor(readonly name: string, readonly file: SafetensorsFile, readonly params: Record<string, unknown>) {}
  has(n: string): boolean { return this.file.names.includes(n); }
  f32(n: string): Promise<Float32Array> { return this.file.readF32(n); }
  ints(n: string): Promise<number[]> { return this.file.readInts(n); }
  shape(n: string): number[] { return this.file.info(n).shape; }
}

export async function runModelGolden(dir: string, gpu: Gpu, act: ActDType): Promise<GoldenResult> {
  const meta = JSON.parse(await readFile(join(dir, 'scenarios.json'), 'utf8')) as { checkpoint?: string; scenarios: Record<string, { file: string; params?: Record<string, unknown> }> };
  const ckpt = await openCheckpointDir(join(dir, meta.checkpoint ?? 'checkpoint'));
  const model = await VilavtModel.load(gpu, ckpt, { activations: act });
  const tol = TOLERANCE[act];
  const lines: string[] = [];
  let ok = true;
  const report = (scenario: string, what: string, err: number, limit: number | 'exact') => {
    const pass = limit === 'exact' ? err === 0 : err <= limit;
    ok &&= pass;
    lines.push(`${pass ? 'PASS' : 'FAIL'} ${act} ${scenario}.${what}: ${limit === 'exact' ? (pass ? 'identical' : `${err} mismatches`) : `rel ${err.toExponential(2)} (tol ${limit.toExponential(0)})`}`);
  };
  const close = (s: string, what: string, got: ArrayLike<number>, ref: ArrayLike<number>, kind: Kind) => report(s, what, maxRelErr(got, ref), tol[kind]);
  const exact = (s: string, what: string, got: ArrayLike<number>, ref: ArrayLike<number>) => report(s, what, mismatches(got, ref), 'exact');
  const cfg = model.config;
  const mrope = () => new MropePositions({ imagePad: cfg.llm.imageTokenId, visionStart: cfg.llm.visionStartTokenId });
  const merge = cfg.vision.mergeSize;

  try {
    for (const [name, sc] of Object.entries(meta.scenarios)) {
      const s = new Scenario(name, await SafetensorsFile.open(await fileSource(join(dir, sc.file))), sc.params ?? {});
      try {
        if (s.has('pixel_values') && s.has('features')) await runVision(s);
        else if (s.has('query_ids') && s.has('last_hidden_state')) await runText(s);
        else if (s.has('prefix_ids') && s.has('new_ids')) await runSecondTurn(s);
        else if (s.has('prompt_ids') && s.has('generated_ids')) await runGreedy(s);
        else if (s.has('input_ids') && s.has('logits')) await runPrefill(s);
        else if (s.has('right_ids') || s.has('left_ids')) await runPadding(s);
        else if (s.has('gelu_erf') || s.has('mrope_cos') || s.has('vision_rope_cos')) await runOps(s);
        else { lines.push(`SKIP ${name}: no tensors this runner knows`); }
      } catch (e) {
        ok = false;
        lines.push(`FAIL ${act} ${name}: ${(e as Error).stack ?? e}`);
      }
    }
  } finally {
    model.destroy();
  }
  return { ok, lines };

  // ---- scenario kinds -------------------------------------------------------------------------------------

  async function inquiryFeatures(ids: number[], mask: number[], T: number, rows: number): Promise<{ feats: (Tensor | null)[]; leftPads: number[] }> {
    const feats: (Tensor | null)[] = [];
    const leftPads: number[] = [];
    for (let g = 0; g < rows; g++) {
      const m = mask.slice(g * T, (g + 1) * T);
      const valid = ids.slice(g * T, (g + 1) * T).filter((_, j) => m[j] === 1);
      leftPads.push(m.indexOf(1) > 0 ? m.indexOf(1) : 0);
      feats.push(await model.encodeInquiry(valid));
    }
    return { feats, leftPads };
  }

  async function encodeVision(s: Scenario, prefix: string, feats: (Tensor | null)[], mapping: number[], leftPads?: number[]) {
    const pv = await s.f32(`${prefix}pixel_values`);
    const grids = chunk3(await s.ints(`${prefix === '' ? 'grid_thw' : 'image_grid_thw'}`));
    const patchDim = s.shape(`${prefix}pixel_values`)[1]!;
    let at = 0;
    const images = grids.map((g) => {
      const n = g[0] * g[1] * g[2];
      const img = { pixelValues: pv.subarray(at * patchDim, (at + n) * patchDim), grid: g };
      at += n;
      return img;
    });
    const capture = {} as import('../model/vision-encoder.js').VisionCapture;
    const out = await model.vision.encode({ images, imageGroup: mapping, inquiries: feats, inquiryPositionOffset: leftPads }, capture);
    const vals = await gpu.read(out);
    out.release();
    return { vals, capture };
  }

  async function runVision(s: Scenario) {
    const mapping = s.has('image_to_query_mapping') ? await s.ints('image_to_query_mapping') : (s.params.image_to_query_mapping as number[]);
    let feats: (Tensor | null)[] = mapping.map(() => null).slice(0, new Set(mapping).size);
    if (s.has('query_ids')) {
      const [Q, T] = s.shape('query_ids') as [number, number];
      const r = await inquiryFeatures(await s.ints('query_ids'), await s.ints('query_mask'), T, Q);
      feats = r.feats;
      if (s.has('inquiry_embeds')) {
        // Reference rows are padded [Q, T, D]: compare the valid rows of every group.
        const ref = await s.f32('inquiry_embeds');
        const mask = await s.ints('query_mask');
        const D = s.shape('inquiry_embeds')[2]!;
        const valid = mask.flatMap((m, i) => (m === 1 ? Array.from(ref.subarray(i * D, (i + 1) * D)) : []));
        close(s.name, 'inquiry_embeds', await concatRows(feats), valid, 'text');
      }
    }
    const { vals, capture } = await encodeVision(s, '', feats, mapping);
    const p = capture.plan!;
    if (s.has('pos_ids')) exact(s.name, 'pos_ids', p.posIds, await s.ints('pos_ids'));
    if (s.has('window_index')) exact(s.name, 'window_index', p.windowIndex, await s.ints('window_index'));
    if (s.has('cu_window_seqlens')) exact(s.name, 'cu_window_seqlens', p.cuWindowSeqlens, await s.ints('cu_window_seqlens'));
    if (s.has('cu_seqlens')) exact(s.name, 'cu_seqlens', p.cuSeqlens, await s.ints('cu_seqlens'));
    if (s.has('cu_seqlens_q')) exact(s.name, 'cu_seqlens_q', p.cuSeqlensQ, await s.ints('cu_seqlens_q'));
    if (s.has('cu_seqlens_k')) exact(s.name, 'cu_seqlens_k', p.cuSeqlensK, await s.ints('cu_seqlens_k'));
    if (s.has('inquiry_pos_ids')) {
      const ref = await s.ints('inquiry_pos_ids');
      const [, T] = s.shape('inquiry_pos_ids') as [number, number];
      const got = p.groupTextPosStart.length ? Array.from({ length: ref.length }, (_, i) => p.groupTextPosStart[Math.floor(i / T)]! + (i % T)) : [];
      exact(s.name, 'inquiry_pos_ids', got, ref);
    }
    if (s.has('patch_embed')) close(s.name, 'patch_embed', capture.patchEmbed!, await s.f32('patch_embed'), 'vision');
    for (let i = 0; s.has(`block${i}`); i++) close(s.name, `block${i}`, capture.blocks![i]!, await s.f32(`block${i}`), 'vision');
    if (s.has('merged_window_order')) close(s.name, 'merged_window_order', capture.mergedWindowOrder!, await s.f32('merged_window_order'), 'vision');
    close(s.name, 'features', vals, await s.f32('features'), 'vision');
    for (const f of feats) f?.release();
  }

  async function runText(s: Scenario) {
    const ids = await s.ints('query_ids');
    const mask = await s.ints('query_mask');
    const [Q, T] = s.shape('query_ids') as [number, number];
    const refLast = await s.f32('last_hidden_state');
    const refEmb = s.has('inquiry_embeds') ? await s.f32('inquiry_embeds') : null;
    const Dt = cfg.textEncoder!.hidden;
    for (let g = 0; g < Q; g++) {
      const m = mask.slice(g * T, (g + 1) * T);
      const rows = m.flatMap((v, j) => (v === 1 ? [j] : []));
      const valid = rows.map((j) => ids[g * T + j]!);
      const capture: import('../model/text-encoder.js').TextEncoderCapture = {};
      const out = await model.textEncoder!.encode(valid, capture);
      const pick = (ref: Float32Array, D: number) => rows.flatMap((j) => Array.from(ref.subarray((g * T + j) * D, (g * T + j + 1) * D)));
      for (let l = 0; s.has(`layer${l}`); l++) close(s.name, `layer${l}[${g}]`, capture.layers![l]!, pick(await s.f32(`layer${l}`), Dt), 'text');
      close(s.name, `last_hidden_state[${g}]`, capture.lastHidden!, pick(refLast, Dt), 'text');
      if (refEmb) close(s.name, `inquiry_embeds[${g}]`, await gpu.read(out), pick(refEmb, out.rowSize), 'text');
      out.release();
    }
  }

  async function prefillScenario(_s: Scenario, ids: number[], grids: GridThw[], features: Float32Array | null) {
    const pos = mrope();
    const positions = pos.append(ids, grids.map((g) => mergedGridOf(g as [number, number, number], merge)));
    const cache = model.llm.newCache(ids.length + 16);
    const captureLayers: Float32Array[][] = [];
    let feats: Tensor | null = null;
    if (features) feats = activationFrom(gpu, features, [features.length / cfg.llm.hidden, cfg.llm.hidden], act, 'golden.features');
    const padRows = ids.flatMap((id, i) => (id === cfg.llm.imageTokenId ? [i] : []));
    const logits = await model.llm.prefill(cache, ids, positions, feats ? { features: feats, padRows } : null, { logits: 'all', captureLayers });
    feats?.release();
    return { pos, positions, cache, logits: logits!, layers: captureLayers.map(concatF32) };
  }

  async function runPrefill(s: Scenario) {
    const ids = await s.ints('input_ids');
    const grids = s.has('image_grid_thw') ? chunk3(await s.ints('image_grid_thw')) : [];
    const feats = s.has('image_features') ? await s.f32('image_features') : null;
    const r = await prefillScenario(s, ids, grids, feats);
    if (s.has('position_ids')) exact(s.name, 'position_ids', r.positions, await s.ints('position_ids'));
    if (s.has('rope_deltas')) exact(s.name, 'rope_deltas', [r.pos.ropeDeltas], await s.ints('rope_deltas'));
    for (let l = 0; s.has(`layer${l}`); l++) close(s.name, `layer${l}`, r.layers[l]!, await s.f32(`layer${l}`), 'logits');
    close(s.name, 'logits', r.logits, await s.f32('logits'), 'logits');
    r.cache.destroy();
  }

  async function runSecondTurn(s: Scenario) {
    const prefix = await s.ints('prefix_ids');
    const fresh = await s.ints('new_ids');
    const all = await s.ints('input_ids');
    const grids = chunk3(await s.ints('image_grid_thw'));
    // Vision call of the turn: originals (empty inquiries) then the regions with their inquiry.
    const [Q, T] = s.shape('vision_query_ids') as [number, number];
    const mapping = await s.ints('vision_image_to_query_mapping');
    const { feats, leftPads } = await inquiryFeatures(await s.ints('vision_query_ids'), await s.ints('vision_query_mask'), T, Q);
    const { vals } = await encodeVision(s, 'vision_', feats, mapping, leftPads);
    close(s.name, 'vision_features', vals, await s.f32('vision_features'), 'vision');
    for (const f of feats) f?.release();
    const H = cfg.llm.hidden;
    // Turn 1: the prefix with the original images; turn 2 appended on the same cache.
    const prefixPads = prefix.filter((id) => id === cfg.llm.imageTokenId).length;
    const prefixBlocks = countBlocks(prefix, cfg.llm.visionStartTokenId);
    const pos = mrope();
    const cache = model.llm.newCache(all.length + 8);
    const p1 = pos.append(prefix, grids.slice(0, prefixBlocks).map((g) => mergedGridOf(g as [number, number, number], merge)));
    const f1 = activationFrom(gpu, vals.subarray(0, prefixPads * H), [prefixPads, H], act, 'golden.f1');
    await model.llm.prefill(cache, prefix, p1, { features: f1, padRows: padRowsOf(prefix) }, { logits: 'none' });
    f1.release();
    const p2 = pos.append(fresh, grids.slice(prefixBlocks).map((g) => mergedGridOf(g as [number, number, number], merge)));
    if (s.has('new_position_ids')) exact(s.name, 'new_position_ids', p2, await s.ints('new_position_ids'));
    const newPads = fresh.filter((id) => id === cfg.llm.imageTokenId).length;
    const f2 = activationFrom(gpu, vals.subarray(prefixPads * H, (prefixPads + newPads) * H), [newPads, H], act, 'golden.f2');
    const inc = await model.llm.prefill(cache, fresh, p2, newPads ? { features: f2, padRows: padRowsOf(fresh) } : null, { logits: 'all' });
    f2.release();
    close(s.name, 'logits_incremental', inc!, await s.f32('logits_incremental'), 'logits');
    cache.destroy();
    // Full recompute from scratch.
    const full = await prefillScenario(s, all, grids, vals);
    if (s.has('position_ids')) exact(s.name, 'position_ids', full.positions, await s.ints('position_ids'));
    if (s.has('rope_deltas')) exact(s.name, 'rope_deltas', [full.pos.ropeDeltas], await s.ints('rope_deltas'));
    close(s.name, 'logits_full', full.logits, await s.f32('logits_full'), 'logits');
    full.cache.destroy();
  }

  async function runGreedy(s: Scenario) {
    const prompt = await s.ints('prompt_ids');
    const refIds = await s.ints('generated_ids');
    const refLogits = await s.f32('step_logits');
    const margins = s.has('top2_margin') ? await s.f32('top2_margin') : null;
    const V = cfg.llm.vocab;
    // The prompt's image features come from the prefill scenario of the same folder when it has image pads.
    let feats: Float32Array | null = null;
    let grids: GridThw[] = [];
    if (prompt.includes(cfg.llm.imageTokenId)) {
      const d = Object.values(meta.scenarios).find((x) => x.file !== undefined && x.file.startsWith('d_'));
      if (!d) throw new Error('greedy prompt has image pads but no prefill scenario provides image_features');
      const df = await SafetensorsFile.open(await fileSource(join(dir, d.file)));
      feats = await df.readF32('image_features');
      grids = chunk3(await df.readInts('image_grid_thw'));
    }
    const r = await prefillScenario(s, prompt, grids, feats);
    const last = r.logits.subarray((prompt.length - 1) * V, prompt.length * V);
    const steps = refIds.length;
    const gotIds: number[] = [argmaxOf(last)];
    const gotLogits = new Float32Array(steps * V);
    gotLogits.set(last, 0);
    const positions: number[] = [];
    const state = model.llm.decodeState();
    try {
      for (let i = 1; i < steps; i++) {
        const position = r.pos.decodePosition(prompt.length + i - 1);
        positions.push(position);
        state.setToken(gotIds[i - 1]!);
        const step = await model.llm.decodeStep(r.cache, state, position, { kind: 'greedy' }, true);
        gotLogits.set(step.logits!, i * V);
        gotIds.push(step.token);
      }
      positions.push(r.pos.decodePosition(prompt.length + steps - 1));
    } finally {
      state.release();
      r.cache.destroy();
    }
    if (s.has('step_positions')) exact(s.name, 'step_positions', positions, await s.ints('step_positions'));
    close(s.name, 'step_logits', gotLogits, refLogits, 'logits');
    // Token identity is required wherever the reference's top-2 margin exceeds our logit error.
    const err = maxRelErr(gotLogits, refLogits) * maxAbs(refLogits);
    const robust = refIds.map((_, i) => (margins ? margins[i]! > 2 * err : true));
    const compared = robust.filter(Boolean).length;
    exact(s.name, `generated_ids (${compared}/${steps} steps with top-2 margin > 2x logit error)`, gotIds.filter((_, i) => robust[i]), refIds.filter((_, i) => robust[i]));
    if (act === 'f32' && compared < steps) report(s.name, 'generated_ids: every step comparable on the f32 path', steps - compared, 'exact');
  }

  async function runPadding(s: Scenario) {
    for (const side of ['right', 'left'] as const) {
      if (!s.has(`${side}_ids`)) continue;
      const [, T] = s.shape(`${side}_ids`) as [number, number];
      const ids = await s.ints(`${side}_ids`);
      const mask = await s.ints(`${side}_mask`);
      const { feats, leftPads } = await inquiryFeatures(ids, mask, T, 1);
      const rows = mask.flatMap((v, j) => (v === 1 ? [j] : []));
      const capture: import('../model/text-encoder.js').TextEncoderCapture = {};
      (await model.textEncoder!.encode(rows.map((j) => ids[j]!), capture)).release();
      const Dt = cfg.textEncoder!.hidden;
      const ref = await s.f32(`${side}_last_hidden_state`);
      close(s.name, `${side}_last_hidden_state (valid rows)`, capture.lastHidden!, rows.flatMap((j) => Array.from(ref.subarray(j * Dt, (j + 1) * Dt))), 'text');
      // The regions of the re-encode scenario of this folder, with this inquiry.
      const b = Object.values(meta.scenarios).find((x) => x.file.startsWith('b_'));
      if (b && s.has(`${side}_features`)) {
        const bs = new Scenario('b', await SafetensorsFile.open(await fileSource(join(dir, b.file))), {});
        const mapping = await bs.ints('image_to_query_mapping');
        const { vals } = await encodeVision(bs, '', feats, mapping, leftPads);
        close(s.name, `${side}_features`, vals, await s.f32(`${side}_features`), 'vision');
      }
      for (const f of feats) f?.release();
    }
  }

  async function runOps(s: Scenario) {
    if (s.has('gelu_erf') || s.has('silu')) {
      const x = await s.f32('x');
      const n = x.length;
      const rec = gpu.recorder();
      const xt = activationFrom(gpu, x, [1, n], act, 'golden.x');
      if (s.has('gelu_erf')) {
        const y = gpu.tensor([1, n], act, 'golden.y');
        gelu(rec, gpu, xt, y);
        rec.submit();
        close(s.name, 'gelu_erf', await gpu.read(y), await s.f32('gelu_erf'), 'ops');
        y.release();
      }
      if (s.has('silu')) {
        // silu(x) = siluMul with up = 1.
        const gu = new Float32Array(2 * n);
        gu.set(x, 0);
        gu.fill(1, n);
        const gut = activationFrom(gpu, gu, [1, 2 * n], act, 'golden.gu');
        const y = gpu.tensor([1, n], act, 'golden.y');
        siluMul(rec, gpu, gut, y);
        rec.submit();
        close(s.name, 'silu', await gpu.read(y), await s.f32('silu'), 'ops');
        y.release(); gut.release();
      }
      rec.release();
      xt.release();
    }
    if (s.has('vision_rope_cos')) {
      const pos = Int32Array.from(await s.ints('vision_rope_pos'));
      const hd = s.shape('vision_rope_cos')[1]!;
      const t = visionRopeTable(pos, hd, cfg.vision.ropeTheta);
      const { cos, sin } = splitTable(t, hd);
      close(s.name, 'vision_rope_cos', cos, await s.f32('vision_rope_cos'), 'ops');
      close(s.name, 'vision_rope_sin', sin, await s.f32('vision_rope_sin'), 'ops');
    }
    if (s.has('mrope_cos')) {
      const pos = Int32Array.from(await s.ints('mrope_pos'));
      const hd = s.shape('mrope_cos')[1]!;
      const t = mropeTable(pos, hd, cfg.llm.mropeSection, cfg.llm.ropeTheta);
      const { cos, sin } = splitTable(t, hd);
      close(s.name, 'mrope_cos', cos, await s.f32('mrope_cos'), 'ops');
      close(s.name, 'mrope_sin', sin, await s.f32('mrope_sin'), 'ops');
    }
  }

  function padRowsOf(ids: number[]): number[] { return ids.flatMap((id, i) => (id === cfg.llm.imageTokenId ? [i] : [])); }

  async function concatRows(ts: (Tensor | null)[]): Promise<Float32Array> {
    const parts: Float32Array[] = [];
    for (const t of ts) if (t) parts.push(await gpu.read(t));
    return concatF32(parts);
  }
}

/** Expand a [rows, hd] table (cos half | sin half) to full cos/sin [rows, hd] tables as HF writes them. */
function splitTable(t: Float32Array, hd: number): { cos: Float32Array; sin: Float32Array } {
  const half = hd / 2;
  const rows = t.length / hd;
  const cos = new Float32Array(rows * hd);
  const sin = new Float32Array(rows * hd);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < hd; j++) {
      cos[r * hd + j] = t[r * hd + (j % half)]!;
      sin[r * hd + j] = t[r * hd + half + (j % half)]!;
    }
  }
  return { cos, sin };
}

function chunk3(v: number[]): GridThw[] {
  const out: GridThw[] = [];
  for (let i = 0; i < v.length; i += 3) out.push([v[i]!, v[i + 1]!, v[i + 2]!]);
  return out;
}

function countBlocks(ids: number[], visionStart: number): number { return ids.filter((id) => id === visionStart).length; }

function concatF32(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

function maxAbs(v: ArrayLike<number>): number { let m = 0; for (let i = 0; i < v.length; i++) m = Math.max(m, Math.abs(v[i]!)); return m; }

function mismatches(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (got.length !== ref.length) return Math.max(got.length, ref.length);
  let n = 0;
  for (let i = 0; i < ref.length; i++) if (Number(got[i]) !== Number(ref[i])) n++;
  return n;
}

function argmaxOf(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i]! > v[best]!) best = i;
  return best;
}
