// `vilavt quantize` on a tiny bf16 checkpoint: the written AWQ checkpoint (sharded, with an index, the original
// config plus quantization_config, side files copied) holds every 4-bit weight within half a step of the original,
// and the engine loads and runs it.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { quantizeMain } from '../../src/cli/quantize.js';
import { makeTinyCheckpoint, tinyADims } from '../../src/model/tiny-checkpoint.js';
import { openCheckpointDir } from '../../src/platform/node-file.js';
import { awqToQ4, QWEIGHT, QZEROS, SCALES } from '../../src/model/awq.js';
import { validateCheckpoint } from '../../src/model/manifest.js';
import { encodeSafetensors, type TensorToEncode } from '../../src/model/safetensors.js';
import { refDequantQ4 } from '../../src/reference/matmul-q4.js';
import { f16BitsToNumber } from '../../src/runtime/dtype.js';
import { VilavtModel } from '../../src/model/vilavt-model.js';
import { MropePositions } from '../../src/model/mrope.js';
import { isQ4 } from '../../src/ops/matmul-q4.js';
import { CORE, getGpu } from '../helpers/gpu.js';

const root = mkdtempSync(join(tmpdir(), 'vilavt-quantize-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('vilavt quantize', () => {
  const src = join(root, 'bf16');
  const out = join(root, 'q4');
  const group = 32;

  it('writes an AWQ checkpoint whose every 4-bit weight is within half a step of the original', async () => {
    mkdirSync(src);
    for (const f of makeTinyCheckpoint({ ...tinyADims(), dtype: 'bf16', seed: 11 }).files) writeFileSync(join(src, f.name), f.bytes);
    writeFileSync(join(src, 'tokenizer_config.json'), '{"chat_template": "x"}');
    const lines: string[] = [];
    expect(await quantizeMain(['--model', src, '--out', out, '--group', String(group)], (l) => lines.push(l))).toBe(0);
    expect(lines.some((l) => /100%/.test(l))).toBe(true);

    const files = readdirSync(out).sort();
    expect(files).toContain('model.safetensors.index.json');
    expect(files).toContain('model-00001-of-00001.safetensors');
    expect(readFileSync(join(out, 'tokenizer_config.json'), 'utf8')).toBe('{"chat_template": "x"}');
    expect(files).toContain('generation_config.json');
    const before = JSON.parse(readFileSync(join(src, 'config.json'), 'utf8'));
    const after = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    const { quantization_config: qc, ...rest } = after;
    expect(rest).toEqual(before);
    expect(Object.keys(rest)).toEqual(Object.keys(before));
    expect(qc).toMatchObject({ bits: 4, group_size: group, quant_method: 'awq', version: 'gemm', zero_point: true });

    const orig = await openCheckpointDir(src);
    const q = await openCheckpointDir(out);
    const report = validateCheckpoint(q, q.config);
    // Tiny dims: every linear divides by 32 and has a multiple of 8 outputs, so every one is 4-bit.
    const linears = report.expected.filter((e) => e.shape.length === 2 && !e.role.endsWith('.embed'));
    expect([...report.quantized.keys()].sort()).toEqual(linears.map((e) => e.name).sort());
    expect(qc.modules_to_not_convert).toEqual([]);

    let checked = 0;
    for (const e of linears) {
      const [n, k] = e.shape as [number, number];
      const base = e.name.slice(0, -'.weight'.length);
      const parts = awqToQ4(await q.read(base + QWEIGHT), await q.read(base + QZEROS), await q.read(base + SCALES), n, k, group);
      const w = await orig.readF32(e.name);
      for (let r = 0; r < n; r++) {
        for (let g = 0; g < k / group; g++) {
          const s = f16BitsToNumber(parts.scales[r * (k / group) + g]!);
          const z = parts.zeros[r * (k / group) + g]!;
          let lo = Infinity;
          for (let i = 0; i < group; i++) lo = Math.min(lo, w[r * k + g * group + i]!);
          if (-Math.round(lo / s) < 0 || -Math.round(lo / s) > 15) continue; // clamped zero point: range not covered
          for (let i = 0; i < group; i++) {
            const c = r * k + g * group + i;
            const err = Math.abs((parts.codes[c]! - z) * s - w[c]!);
            // Half a step; the stored scale is the f16 rounding of (max − min)/15, so the top code may sit up to
            // 15·2⁻¹¹ of a step further (relative rounding of the scale times 15 steps).
            if (!(err <= s * (0.5 + 15 * 2 ** -11))) throw new Error(`${e.name}[${r}, ${g * group + i}]: error ${err} > half step ${s / 2}`);
            checked++;
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(10000);
  });

  it('the engine runs the 4-bit checkpoint exactly as the same model with the weights dequantized to f32', async () => {
    // The dequantized twin: every 4-bit weight written back as its exact f32 value (code − zero)·scale.
    const deq = join(root, 'deq');
    mkdirSync(deq);
    const q = await openCheckpointDir(out);
    const report = validateCheckpoint(q, q.config);
    const tensors: TensorToEncode[] = [];
    for (const [name, loc] of q.tensors) {
      if (/\.(qweight|qzeros|scales)$/.test(name)) continue;
      tensors.push({ name, dtype: loc.info.dtype, shape: loc.info.shape, data: await q.read(name) });
    }
    for (const [name, g] of report.quantized) {
      const [n, k] = report.expected.find((e) => e.name === name)!.shape as [number, number];
      const base = name.slice(0, -'.weight'.length);
      const w = Float32Array.from(refDequantQ4(awqToQ4(await q.read(base + QWEIGHT), await q.read(base + QZEROS), await q.read(base + SCALES), n, k, g)));
      tensors.push({ name, dtype: 'F32', shape: [n, k], data: new Uint8Array(w.buffer) });
    }
    writeFileSync(join(deq, 'model.safetensors'), encodeSafetensors(tensors));
    const { quantization_config: _, ...cfg } = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    writeFileSync(join(deq, 'config.json'), JSON.stringify(cfg));
    for (const f of ['generation_config.json', 'preprocessor_config.json']) writeFileSync(join(deq, f), readFileSync(join(out, f)));

    const gpu = await getGpu(CORE);
    // f32 storage for the twin: its dequantized F32 weights stay exact (bf16 tensors widen exactly either way).
    const run = async (dir: string, storage?: 'f32') => {
      const model = await VilavtModel.load(gpu, await openCheckpointDir(dir), { storage });
      const cfg = model.config.llm;
      const ids = [301, 5, 6, 7, 302, 301, 8, 9, 10];
      const pos = new MropePositions({ imagePad: cfg.imageTokenId, visionStart: cfg.visionStartTokenId });
      const cache = model.llm.newCache(32);
      const logits = (await model.llm.prefill(cache, ids, pos.append(ids), null, { logits: 'all' }))!;
      const q4 = isQ4(model.weights.llm.layers[0]!.qkv.w);
      cache.destroy();
      model.destroy();
      return { logits, q4 };
    };
    const ref = await run(deq, 'f32');
    const got = await run(out);
    const bf16 = await run(src);
    expect(ref.q4).toBe(false);
    expect(got.q4).toBe(true);
    const relErr = (a: Float32Array, b: Float32Array) => {
      let maxAbs = 0, maxErr = 0;
      for (let i = 0; i < b.length; i++) { maxAbs = Math.max(maxAbs, Math.abs(b[i]!)); maxErr = Math.max(maxErr, Math.abs(a[i]! - b[i]!)); }
      return maxErr / maxAbs;
    };
    // Same weights, f32 arithmetic in both (only summation order and the per-group zero-point fold differ):
    // the f32 golden criterion, 1e-4 of max|logit|.
    expect(relErr(got.logits, ref.logits)).toBeLessThan(1e-4);
    // ... and it is a different model from the bf16 one (quantization moved the logits).
    expect(relErr(got.logits, bf16.logits)).toBeGreaterThan(1e-3);
  });

  it('refuses a non-empty output folder and an already quantized model', async () => {
    await expect(quantizeMain(['--model', src, '--out', out], () => {})).rejects.toThrow(/not empty/);
    await expect(quantizeMain(['--model', out, '--out', join(root, 'again')], () => {})).rejects.toThrow(/already has a quantization_config/);
    await expect(quantizeMain(['--model', src, '--out', join(root, 'x'), '--group', '12'], () => {})).rejects.toThrow(/multiple of 8/);
  });
});
