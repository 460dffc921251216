// AWQ 4-bit checkpoints (src/model/awq.ts): the packing as the format defines it, manifest validation of the
// quantized tensors (one CheckpointError naming every problem, nothing uploaded), and what the loader uploads.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { bytesSource } from '../../src/model/byte-source.js';
import { openCheckpoint, type CheckpointFile } from '../../src/model/checkpoint.js';
import { CheckpointError } from '../../src/model/errors.js';
import { encodeSafetensors, SafetensorsFile, type TensorToEncode } from '../../src/model/safetensors.js';
import { awqToQ4, q4ToAwq } from '../../src/model/awq.js';
import { loadModelWeights, type WeightUploader } from '../../src/model/weights.js';
import { isQ4 } from '../../src/ops/matmul-q4.js';
import { isHostEmbedding } from '../../src/model/host-embedding.js';
import type { DType } from '../../src/runtime/dtype.js';
import { Tensor } from '../../src/runtime/tensor.js';
import { rng } from '../helpers/random.js';

const dir = fileURLToPath(new URL('../fixtures/golden/tiny-a-awq/checkpoint/', import.meta.url));
const SIDE = ['config.json', 'generation_config.json', 'preprocessor_config.json'];

function recorder() {
  const uploads: { name: string; shape: readonly number[]; dtype: DType }[] = [];
  const gpu: WeightUploader = {
    maxBindingBytes: 2 ** 30,
    upload(_bytes, shape, dtype, label = '') { uploads.push({ name: label, shape, dtype }); return new Tensor(shape, dtype, [], null, label); },
    destroyTensor: () => {},
    flushErrors: async () => {},
  };
  return { gpu, uploads };
}

/** tiny-a-awq with its tensors and config edited. */
async function variant(edit: (t: TensorToEncode[]) => TensorToEncode[], config?: (c: Record<string, unknown>) => void) {
  const bytes = new Uint8Array(readFileSync(dir + 'model.safetensors'));
  const st = await SafetensorsFile.open(bytesSource(bytes, 'model.safetensors'));
  const tensors = await Promise.all(st.names.map(async (n) => ({ name: n, dtype: st.info(n).dtype, shape: st.info(n).shape, data: await st.readRaw(n) })));
  const cfg = JSON.parse(readFileSync(dir + 'config.json', 'utf8')) as Record<string, unknown>;
  config?.(cfg);
  const files: CheckpointFile[] = SIDE.map((name) => ({
    name, source: bytesSource(name === 'config.json' ? new TextEncoder().encode(JSON.stringify(cfg)) : new Uint8Array(readFileSync(dir + name)), name),
  }));
  files.push({ name: 'model.safetensors', source: bytesSource(encodeSafetensors(edit(tensors)), 'model.safetensors') });
  return openCheckpoint(files);
}

describe('AWQ format', () => {
  it('reads nibble i of a word as output column 8c + [0, 2, 4, 6, 1, 3, 5, 7][i]', () => {
    // One input row, 16 outputs: word c holds nibbles 1..8 (c = 0) and 9..15, 0 (c = 1) in bit order.
    const qweight = new Uint8Array(new Uint32Array([0x87654321, 0x0fedcba9]).buffer);
    const qzeros = new Uint8Array(new Uint32Array([0x11111111, 0x22222222]).buffer);
    const scales = new Uint8Array(new Uint16Array(16).fill(0x3c00).buffer);
    const q = awqToQ4(qweight, qzeros, scales, 16, 1, 1);
    // Column 8c + ORDER[i] gets nibble i: columns 0,2,4,6,1,3,5,7 <- 1..8.
    expect(Array.from(q.codes)).toEqual([1, 5, 2, 6, 3, 7, 4, 8, 9, 13, 10, 14, 11, 15, 12, 0]);
    expect(Array.from(q.zeros)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2]);
  });

  it('writes what it reads (random codes, zeros, scales)', () => {
    const r = rng(3);
    const n = 24, k = 64, group = 32;
    const q = {
      n, k, group,
      codes: Uint8Array.from({ length: n * k }, () => Math.floor(r() * 16)),
      zeros: Uint8Array.from({ length: n * 2 }, () => Math.floor(r() * 16)),
      scales: Uint16Array.from({ length: n * 2 }, () => Math.floor(r() * 0x7800)),
    };
    const a = q4ToAwq(q);
    const back = awqToQ4(new Uint8Array(a.qweight.buffer), new Uint8Array(a.qzeros.buffer), new Uint8Array(a.scales.buffer), n, k, group);
    expect(Buffer.from(back.codes).equals(Buffer.from(q.codes))).toBe(true);
    expect(Buffer.from(back.zeros).equals(Buffer.from(q.zeros))).toBe(true);
    expect(Buffer.from(back.scales.buffer).equals(Buffer.from(q.scales.buffer))).toBe(true);
  });
});

describe('AWQ checkpoints: validation and loading (no device)', () => {
  it('tiny-a-awq: decoder linears upload 4-bit (fused gate/up), everything else float', async () => {
    const r = recorder();
    const w = await loadModelWeights(r.gpu, await variant((t) => t));
    expect(w.storage).toBe('f16');
    const l0 = w.llm.layers[0]!;
    for (const lw of [l0.qkv.w, l0.o.w, l0.gateUp.w, l0.down.w]) expect(isQ4(lw)).toBe(true);
    expect(isQ4(l0.qkv.w) && l0.qkv.w.shape).toEqual([128, 64]); // q 64 + k 32 + v 32 rows, fused
    expect(isQ4(l0.gateUp.w) && l0.gateUp.w.shape).toEqual([256, 64]);
    expect(isQ4(l0.gateUp.w) && l0.gateUp.w.group).toBe(64);
    expect(isQ4(w.llm.lmHead)).toBe(false);
    // 4-bit checkpoints keep the embedding tables in host memory (an untied lm_head here), nothing uploaded for them.
    expect(isHostEmbedding(w.llm.embed) && isHostEmbedding(w.textEncoder!.embed)).toBe(true);
    expect(r.uploads.some((u) => u.name.includes('embed_tokens'))).toBe(false);
    expect(isQ4(w.vision.blocks[0]!.q.w)).toBe(false);
    expect(r.uploads.find((u) => u.name === 'model.layers.1.mlp.down_proj.weight.codes')).toMatchObject({ dtype: 'u32', shape: [64, 16] });
  });

  it('names every wrong 4-bit tensor and the config in one CheckpointError, before any upload', async () => {
    const r = recorder();
    const ck = await variant((ts) => ts
      .filter((t) => t.name !== 'model.layers.0.mlp.up_proj.scales')
      .map((t) => (t.name === 'model.layers.1.self_attn.k_proj.qweight'
        ? { ...t, shape: [64, 8], data: new Uint8Array(64 * 8 * 4) } : t)));
    const e = await loadModelWeights(r.gpu, ck).then(() => null, (x: unknown) => x);
    expect(e).toBeInstanceOf(CheckpointError);
    const named = (e as CheckpointError).problems.map((p) => p.tensor);
    expect(named).toContain('model.layers.0.mlp.up_proj.scales');
    expect(named).toContain('model.layers.1.self_attn.k_proj.qweight');
    expect((e as CheckpointError).message).toMatch(/missing/);
    expect(r.uploads).toHaveLength(0);
  });

  it('rejects a group size that does not divide, an unsupported quantization_config, and 4-bit tensors without one', async () => {
    const r = recorder();
    const grp = await variant((t) => t, (c) => { (c.quantization_config as Record<string, unknown>).group_size = 48; });
    await expect(loadModelWeights(r.gpu, grp)).rejects.toThrow(/group_size 48 does not divide the input width 64/);
    const bits = await variant((t) => t, (c) => { (c.quantization_config as Record<string, unknown>).bits = 8; });
    await expect(loadModelWeights(r.gpu, bits)).rejects.toThrow(/config\.json: unsupported quantization_config: bits 8/);
    const gptq = await variant((t) => t, (c) => { c.quantization_config = { quant_method: 'gptq', bits: 4, group_size: 64 }; });
    await expect(loadModelWeights(r.gpu, gptq)).rejects.toThrow(/quant_method "gptq"/);
    const none = await variant((t) => t, (c) => { delete c.quantization_config; });
    await expect(loadModelWeights(r.gpu, none)).rejects.toThrow(/no quantization_config/);
    expect(r.uploads).toHaveLength(0);
  });
});
