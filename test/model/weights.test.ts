import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { bytesSource } from '../../src/model/byte-source.js';
import { openCheckpoint, type Checkpoint, type CheckpointFile } from '../../src/model/checkpoint.js';
import { CheckpointError } from '../../src/model/errors.js';
import { decode } from '../../src/runtime/dtype.js';
import { encodeSafetensors, SafetensorsFile } from '../../src/model/safetensors.js';
import { makeTinyCheckpoint, tinyADims } from '../../src/model/tiny-checkpoint.js';
import { destroyModelWeights, loadModelWeights, type WeightUploader } from '../../src/model/weights.js';
import { openCheckpointDir } from '../../src/platform/node-file.js';
import type { DType } from '../../src/runtime/dtype.js';
import { Tensor } from '../../src/runtime/tensor.js';
import { getGpu } from '../helpers/gpu.js';

const tinyDir = fileURLToPath(new URL('../fixtures/golden/tiny-a/checkpoint', import.meta.url));

/** Records uploads instead of creating GPU buffers (the loader's logic without a device). */
function recorder(maxBindingBytes = 2 ** 30) {
  const uploads: { name: string; bytes: Uint8Array; shape: readonly number[]; dtype: DType }[] = [];
  let destroyed = 0;
  const gpu: WeightUploader = {
    maxBindingBytes,
    upload(bytes, shape, dtype, label = '') {
      uploads.push({ name: label, bytes: bytes.slice(), shape, dtype });
      return new Tensor(shape, dtype, [], null, label);
    },
    destroyTensor: () => void destroyed++,
    flushErrors: async () => {},
  };
  const get = (name: string) => {
    const u = uploads.find((x) => x.name === name);
    if (!u) throw new Error(`no upload ${name}`);
    return u;
  };
  return { gpu, uploads, get, destroyed: () => destroyed };
}

const files = (fs: { name: string; bytes: Uint8Array }[]): CheckpointFile[] => fs.map((f) => ({ name: f.name, source: bytesSource(f.bytes, f.name) }));
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(b); // a byte compare (vitest's deep equality is slow on typed arrays)
const cat = (...parts: Uint8Array[]): Uint8Array => Buffer.concat(parts);
/** Independent widening: bf16 bits << 16 is the f32 bit pattern. */
const widenBf16 = (raw: Uint8Array): Uint8Array => new Uint8Array(Uint32Array.from(new Uint16Array(raw.slice().buffer), (b) => b << 16).buffer);

/** The f32 checkpoint of tiny-a dimensions with tensor `name` replaced by `data` (or removed when null). */
async function edited(seed: number, name: string, data: ((n: number) => Float32Array) | null): Promise<Checkpoint> {
  const gen = makeTinyCheckpoint({ ...tinyADims(), dtype: 'f32', seed }).files;
  const weights = gen.find((f) => f.name === 'model.safetensors')!;
  const st = await SafetensorsFile.open(bytesSource(weights.bytes, 'model.safetensors'));
  const tensors = (await Promise.all(st.names.map(async (n) => ({ name: n, ...st.info(n), data: await st.readRaw(n) }))))
    .filter((t) => data !== null || t.name !== name)
    .map((t) => (t.name === name && data ? { ...t, data: new Uint8Array(data(t.byteLength / 4).buffer) } : t));
  return openCheckpoint(files([...gen.filter((f) => f !== weights), { name: 'model.safetensors', bytes: encodeSafetensors(tensors) }]));
}

describe('loadModelWeights (no device)', () => {
  it('bf16 checkpoint: matrices keep the file bytes (fused and split by rows), 1-D params widen to f32, with progress', async () => {
    const ck = await openCheckpointDir(tinyDir);
    const r = recorder();
    const progress: number[] = [];
    let total = -1;
    const w = await loadModelWeights(r.gpu, ck, { onProgress: (done, all) => { progress.push(done); total = all; } });
    expect(w.storage).toBe('bf16');
    // tiny-a (README): ViT 1 + 4 blocks x 14 + 2 QA blocks x 2 + 5 merger; LLM 2 + 2 x 7 (q/k/v fused, with their
    // biases) + lm_head; Qwen3 2 + 2 x 8 (q/k/v fused); text_proj 2.
    expect(r.uploads).toHaveLength(66 + 17 + 18 + 2);
    expect(progress).toEqual(Array.from({ length: r.uploads.length }, (_, i) => i + 1));
    expect(total).toBe(r.uploads.length);

    for (const name of ['model.layers.1.self_attn.o_proj.weight', 'lm_head.weight', 'text_encoder.layers.0.mlp.down_proj.weight']) {
      expect(r.get(name).dtype).toBe('bf16');
      expect(same(r.get(name).bytes, await ck.read(name)), name).toBe(true);
    }
    const attn = 'model.layers.1.self_attn';
    const qkvW = r.get(`${attn}.qkv_proj.weight`);
    expect(qkvW.shape).toEqual([128, 64]); // q 64 + k 32 + v 32 rows
    expect(same(qkvW.bytes, cat(await ck.read(`${attn}.q_proj.weight`), await ck.read(`${attn}.k_proj.weight`), await ck.read(`${attn}.v_proj.weight`)))).toBe(true);
    expect(same(r.get(`${attn}.qkv_proj.bias`).bytes, cat(widenBf16(await ck.read(`${attn}.q_proj.bias`)), widenBf16(await ck.read(`${attn}.k_proj.bias`)), widenBf16(await ck.read(`${attn}.v_proj.bias`))))).toBe(true);
    const p = 'visual.blocks.3';
    const gateUp = r.get(`${p}.mlp.gate_up_proj.weight`);
    expect(gateUp.shape).toEqual([128, 32]);
    expect(same(gateUp.bytes, cat(await ck.read(`${p}.mlp.gate_proj.weight`), await ck.read(`${p}.mlp.up_proj.weight`)))).toBe(true);
    const kvBias = r.get(`${p}.attn.instruct_kv_proj.bias`);
    expect(kvBias.dtype).toBe('f32');
    expect(same(kvBias.bytes, cat(widenBf16(await ck.read(`${p}.attn.instruct_key_proj.bias`)), widenBf16(await ck.read(`${p}.attn.instruct_value_proj.bias`))))).toBe(true);
    const qkv = await ck.read(`${p}.attn.qkv.weight`); // [96, 32] bf16: 2048 bytes per piece
    for (let i = 0; i < 3; i++) {
      expect(r.get(`${p}.attn.qkv.weight[${i}]`).shape).toEqual([32, 32]);
      expect(same(r.get(`${p}.attn.qkv.weight[${i}]`).bytes, qkv.slice(i * 2048, (i + 1) * 2048))).toBe(true);
    }
    const norm = r.get('model.norm.weight');
    expect([norm.dtype, norm.shape]).toEqual(['f32', [64]]);
    expect(same(norm.bytes, widenBf16(await ck.read('model.norm.weight')))).toBe(true);
    // integration_point late, depth 4: blocks 2 and 3 are QA blocks.
    expect(w.vision.blocks.map((b) => b.instructKv !== null)).toEqual([false, false, true, true]);
    expect(w.llm.lmHead).not.toBe(w.llm.embed);
  });

  it('bf16 -> f32 storage widens exactly; f32 -> bf16 rounds each value to the nearer bf16 neighbour', async () => {
    const ck = await openCheckpointDir(tinyDir);
    const r = recorder();
    await loadModelWeights(r.gpu, ck, { storage: 'f32' });
    expect(same(r.get('text_proj.weight').bytes, widenBf16(await ck.read('text_proj.weight')))).toBe(true);

    const f32 = await openCheckpoint(files(makeTinyCheckpoint({ ...tinyADims(), dtype: 'f32', seed: 5 }).files));
    const r2 = recorder();
    await loadModelWeights(r2.gpu, f32, { storage: 'bf16' });
    const name = 'model.layers.0.mlp.down_proj.weight';
    const src = await f32.readF32(name);
    const got = decode(r2.get(name).bytes, 'bf16', r2.get(name).bytes.byteLength / 2);
    const u32 = new Uint32Array(src.buffer);
    for (let i = 0; i < src.length; i++) {
      const lo = new Float32Array(new Uint32Array([u32[i]! & 0xffff0000]).buffer)[0]!; // truncated toward zero
      const hi = new Float32Array(new Uint32Array([(u32[i]! & 0xffff0000) + 0x10000]).buffer)[0]!; // next bf16 away from zero
      const nearer = Math.abs(src[i]! - lo) <= Math.abs(hi - src[i]!) ? lo : hi;
      if (Math.abs(src[i]! - lo) !== Math.abs(hi - src[i]!)) expect(got[i]).toBe(nearer);
      else expect([lo, hi]).toContain(got[i]);
    }
  });

  it('rows wider than the binding limit are reported, all at once, before any upload', async () => {
    const r = recorder(200);
    const e = (await loadModelWeights(r.gpu, await openCheckpointDir(tinyDir), { storage: 'f32' }).then(
      () => undefined,
      (x: unknown) => x,
    )) as CheckpointError;
    expect(e).toBeInstanceOf(CheckpointError);
    // f32 rows over 200 B: every matrix whose trailing dims hold more than 50 values (hand count from the README dims).
    const named = e.problems.map((p) => p.tensor);
    expect(named).toContain('visual.patch_embed.proj.weight');
    expect(named).toContain('model.layers.0.mlp.down_proj.weight'); // 128 values per row
    expect(named).toContain('model.layers.1.mlp.gate_proj.weight'); // 64 values per row
    expect(named).not.toContain('visual.blocks.0.attn.qkv.weight'); // 32 values per row
    expect(e.problems.length).toBeGreaterThan(1);
    expect(r.uploads).toHaveLength(0);
  });

  it('validates before uploading anything; f16 overflow stops the load and frees the partial uploads; tied lm_head', async () => {
    const r = recorder();
    await expect(loadModelWeights(r.gpu, await edited(2, 'model.norm.weight', null), { storage: 'f32' })).rejects.toThrow(/model\.norm\.weight: missing/);
    expect(r.uploads).toHaveLength(0);

    const big = 'visual.merger.mlp.2.weight';
    const r2 = recorder();
    const overflow = await edited(2, big, (n) => new Float32Array(n).fill(1e5));
    await expect(loadModelWeights(r2.gpu, overflow, { storage: 'f16' })).rejects.toThrow(/model\.safetensors: visual\.merger\.mlp\.2\.weight: values overflow f16 storage/);
    expect(r2.uploads.length).toBeGreaterThan(0);
    expect(r2.uploads.map((u) => u.name)).not.toContain(big);
    expect(r2.destroyed()).toBe(r2.uploads.length);

    const r3 = recorder();
    const tied = await openCheckpoint(files(makeTinyCheckpoint({ ...tinyADims(), dtype: 'f32', seed: 2, tieEmbeddings: true }).files));
    const w = await loadModelWeights(r3.gpu, tied, { storage: 'f32' });
    expect(w.llm.lmHead).toBe(w.llm.embed);
    expect(r3.uploads.map((u) => u.name)).not.toContain('lm_head.weight');
  });
});

describe('loadModelWeights on the GPU', () => {
  it('tiny-a uploads, split across small bindings, read back exactly', async () => {
    // 8 KiB bindings force splits: embed [320, 64] is 40 KiB in bf16 -> 5 parts, 80 KiB in f32 -> 10 parts;
    // patch_embed rows (1176 values) take 3 rows per part in bf16 -> 11 parts, 1 row in f32 -> 32 parts.
    const gpu = await getGpu(undefined, { maxBindingBytes: 8192 });
    const ck = await openCheckpointDir(tinyDir);
    for (const [storage, embedParts, patchParts] of [['bf16', 5, 11], ['f32', 10, 32]] as const) {
      const w = await loadModelWeights(gpu, ck, { storage });
      try {
        expect((w.llm.embed as Tensor).parts).toHaveLength(embedParts);
        expect(w.vision.patchEmbed.parts).toHaveLength(patchParts);
        expect(await gpu.read(w.llm.embed as Tensor)).toEqual(await ck.readF32('model.embed_tokens.weight'));
        expect(await gpu.read(w.vision.patchEmbed)).toEqual(await ck.readF32('visual.patch_embed.proj.weight'));
        expect(await gpu.read(w.textEncoder!.layers[1]!.kNorm!)).toEqual(await ck.readF32('text_encoder.layers.1.self_attn.k_norm.weight'));
      } finally {
        destroyModelWeights(gpu, w);
      }
    }
  });
});
