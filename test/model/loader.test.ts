import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { bytesSource } from '../../src/model/byte-source.js';
import { openCheckpoint, type CheckpointFile } from '../../src/model/checkpoint.js';
import { CheckpointError } from '../../src/model/errors.js';
import { bf16ToF32 } from '../../src/model/half.js';
import { loadWeights, type WeightUploader } from '../../src/model/loader.js';
import { encodeSafetensors, SafetensorsFile } from '../../src/model/safetensors.js';
import { makeTinyCheckpoint, tinyADims } from '../../src/model/tiny-checkpoint.js';
import { openCheckpointDir } from '../../src/platform/node-file.js';
import type { WeightDType } from '../../src/runtime/dtype.js';
import { Tensor } from '../../src/runtime/tensor.js';
import { getGpu } from '../helpers/gpu.js';

const tinyDir = fileURLToPath(new URL('../fixtures/golden/tiny-a/checkpoint', import.meta.url));

/** Records uploads instead of creating GPU buffers (the loader's logic without a device). */
function recorder() {
  const uploads: { name: string; bytes: Uint8Array; shape: readonly number[]; dtype: WeightDType }[] = [];
  let destroyed = 0;
  const gpu: WeightUploader = {
    upload(bytes, shape, dtype, label = '') {
      uploads.push({ name: label, bytes: bytes.slice(), shape, dtype });
      return new Tensor(shape, dtype, [], null, label);
    },
    destroyTensor: () => void destroyed++,
  };
  return { gpu, uploads, destroyed: () => destroyed };
}

const files = (fs: { name: string; bytes: Uint8Array }[]): CheckpointFile[] => fs.map((f) => ({ name: f.name, source: bytesSource(f.bytes, f.name) }));

describe('loadWeights (no device)', () => {
  it('bf16 checkpoint: bf16 storage uploads the file bytes unchanged, in manifest order, with progress', async () => {
    const ck = await openCheckpointDir(tinyDir);
    const r = recorder();
    const progress: number[] = [];
    let last = { bytesRead: 0, bytesTotal: -1 };
    const store = await loadWeights(r.gpu, ck, { storage: 'bf16', onProgress: (p) => { progress.push(p.index); last = p; } });
    expect(r.uploads).toHaveLength(115);
    expect(progress).toEqual(Array.from({ length: 115 }, (_, i) => i + 1));
    expect(last.bytesRead).toBe(last.bytesTotal);
    expect(last.bytesTotal).toBe([...ck.tensors.values()].reduce((s, t) => s + t.info.byteLength, 0));
    for (const u of r.uploads) {
      expect(u.dtype).toBe('bf16');
      // Buffer.equals: a byte compare (vitest's deep equality is slow on typed arrays)
      expect(Buffer.from(u.bytes).equals(await ck.read(u.name)), u.name).toBe(true);
    }
    expect(store.get('visual.blocks.3.attn.instruct_key_proj.weight').shape).toEqual([32, 32]);
    expect(() => store.get('mystery')).toThrow(CheckpointError);
  });

  it('bf16 -> f32 storage widens exactly; f32 -> bf16 rounds each value to the nearer bf16 neighbour', async () => {
    const ck = await openCheckpointDir(tinyDir);
    const r = recorder();
    await loadWeights(r.gpu, ck, { storage: 'f32' });
    const u = r.uploads.find((x) => x.name === 'text_proj.weight')!;
    // independent widening: bf16 bits << 16 is the f32 bit pattern
    const bits = new Uint16Array((await ck.read('text_proj.weight')).slice().buffer);
    expect(new Uint32Array(u.bytes.buffer)).toEqual(Uint32Array.from(bits, (b) => b << 16));

    const f32 = await openCheckpoint(files(makeTinyCheckpoint({ ...tinyADims(), dtype: 'f32', seed: 5 }).files));
    const r2 = recorder();
    await loadWeights(r2.gpu, f32, { storage: 'bf16' });
    const name = 'model.layers.0.mlp.gate_proj.weight';
    const src = await f32.readF32(name);
    const got = bf16ToF32(new Uint16Array(r2.uploads.find((x) => x.name === name)!.bytes.buffer));
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
    const r = recorder();
    const narrow = { ...r.gpu, maxBindingBytes: 200 };
    const e = (await loadWeights(narrow, await openCheckpointDir(tinyDir), { storage: 'f32' }).then(
      () => undefined,
      (x: unknown) => x,
    )) as CheckpointError;
    expect(e).toBeInstanceOf(CheckpointError);
    // f32 rows over 200 B: every tensor whose trailing dims hold more than 50 values (hand count from the README dims).
    expect(e.problems.map((p) => p.tensor)).toContain('visual.patch_embed.proj.weight');
    expect(e.problems.map((p) => p.tensor)).toContain('model.layers.0.mlp.down_proj.weight'); // 128 values per row
    expect(e.problems.map((p) => p.tensor)).not.toContain('visual.blocks.0.attn.qkv.weight'); // 32 values per row
    expect(r.uploads).toHaveLength(0);
  });

  it('validates before uploading anything; f16 overflow and tied lm_head', async () => {
    const gen = makeTinyCheckpoint({ ...tinyADims(), dtype: 'f32', seed: 2, tieEmbeddings: true }).files;
    const weights = gen.find((f) => f.name === 'model.safetensors')!;
    const st = await SafetensorsFile.open(bytesSource(weights.bytes, 'model.safetensors'));
    const tensors = await Promise.all(st.names.map(async (n) => ({ name: n, ...st.info(n), data: await st.readRaw(n) })));

    const missing = files([...gen.filter((f) => f !== weights), { name: 'model.safetensors', bytes: encodeSafetensors(tensors.filter((t) => t.name !== 'model.norm.weight')) }]);
    const r = recorder();
    await expect(loadWeights(r.gpu, await openCheckpoint(missing), { storage: 'f32' })).rejects.toThrow(/model\.norm\.weight: missing/);
    expect(r.uploads).toHaveLength(0);

    const big = tensors.map((t) => (t.name === 'visual.merger.mlp.2.bias' ? { ...t, data: new Uint8Array(new Float32Array(64).fill(1e5).buffer) } : t));
    const overflow = await openCheckpoint(files([...gen.filter((f) => f !== weights), { name: 'model.safetensors', bytes: encodeSafetensors(big) }]));
    const r2 = recorder();
    await expect(loadWeights(r2.gpu, overflow, { storage: 'f16' })).rejects.toThrow(/model\.safetensors: visual\.merger\.mlp\.2\.bias: values overflow f16 storage/);
    expect(r2.destroyed()).toBe(r2.uploads.length); // partial uploads are freed

    const store = await loadWeights(recorder().gpu, await openCheckpoint(files(gen)), { storage: 'f32' });
    expect(store.has('lm_head.weight')).toBe(true);
    expect(store.get('lm_head.weight')).toBe(store.get('model.embed_tokens.weight'));
    expect(store.names).not.toContain('lm_head.weight');
  });
});

describe('loadWeights on the GPU', () => {
  it('tiny-a uploads, split across small bindings, read back exactly', async () => {
    // 8 KiB bindings force splits: embed [320, 64] is 40 KiB in bf16 -> 5 parts, 80 KiB in f32 -> 10 parts;
    // patch_embed rows (1176 values) take 3 rows per part in bf16 -> 11 parts, 1 row in f32 -> 32 parts.
    const gpu = await getGpu(undefined, { maxBindingBytes: 8192 });
    const ck = await openCheckpointDir(tinyDir);
    for (const [storage, embedParts, patchParts] of [['bf16', 5, 11], ['f32', 10, 32]] as const) {
      const store = await loadWeights(gpu, ck, { storage });
      try {
        expect(store.get('model.embed_tokens.weight').parts).toHaveLength(embedParts);
        expect(store.get('visual.patch_embed.proj.weight').parts).toHaveLength(patchParts);
        for (const name of ['model.embed_tokens.weight', 'visual.patch_embed.proj.weight', 'text_encoder.layers.1.self_attn.k_norm.weight']) {
          expect(await gpu.read(store.get(name))).toEqual(await ck.readF32(name));
        }
      } finally {
        store.destroy();
      }
    }
  });
});
