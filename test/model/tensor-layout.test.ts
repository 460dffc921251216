// The two tensor-name layouts of Qwen2.5-VL fine-tunes: a checkpoint renamed to the newer Hugging Face layout
// (model.language_model.*, model.visual.*, lm_head) opens to the same tensors, passes the manifest the same way and
// gives the tiny-a golden's outputs unchanged (f32 path); mixed layouts and name clashes are refused.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runModelGolden } from '../../src/golden/model.js';
import { CheckpointError } from '../../src/model/errors.js';
import { validateCheckpoint } from '../../src/model/manifest.js';
import { encodeSafetensors, SafetensorsFile } from '../../src/model/safetensors.js';
import { canonicalTensorName, detectTensorLayout, nestedTensorName } from '../../src/model/tensor-layout.js';
import { fileSource, openCheckpointDir } from '../../src/platform/node-file.js';
import { getGpu } from '../helpers/gpu.js';

const TINY_A = join(import.meta.dirname, '../fixtures/golden/tiny-a');
let dir: string;

/** Rewrites DIR/checkpoint/model.safetensors with `rename` applied to every tensor name (bytes unchanged). */
async function renameTensors(ckptDir: string, rename: (n: string) => string): Promise<void> {
  const path = join(ckptDir, 'model.safetensors');
  const f = await SafetensorsFile.open(await fileSource(path));
  const tensors = [];
  for (const name of f.names) {
    const info = f.info(name);
    tensors.push({ name: rename(name), dtype: info.dtype, shape: [...info.shape], data: await f.readRaw(name) });
  }
  await writeFile(path, encodeSafetensors(tensors));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vilavt-layout-'));
  await cp(TINY_A, dir, { recursive: true });
  await renameTensors(join(dir, 'checkpoint'), (n) => nestedTensorName(n));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('tensor-name layouts', () => {
  it('maps the newer names back to the original ones', () => {
    expect(canonicalTensorName('model.language_model.layers.3.mlp.up_proj.weight', 'hf-nested')).toBe('model.layers.3.mlp.up_proj.weight');
    expect(canonicalTensorName('model.language_model.embed_tokens.weight', 'hf-nested')).toBe('model.embed_tokens.weight');
    expect(canonicalTensorName('model.visual.blocks.0.attn.qkv.weight', 'hf-nested')).toBe('visual.blocks.0.attn.qkv.weight');
    expect(canonicalTensorName('model.text_encoder.layers.0.mlp.up_proj.weight', 'hf-nested')).toBe('text_encoder.layers.0.mlp.up_proj.weight');
    expect(canonicalTensorName('lm_head.weight', 'hf-nested')).toBe('lm_head.weight');
    expect(detectTensorLayout(['model.layers.0.x', 'visual.y', 'lm_head.weight'], 'f')).toBe('original');
    expect(detectTensorLayout(['model.language_model.layers.0.x', 'model.visual.y', 'lm_head.weight'], 'f')).toBe('hf-nested');
    expect(() => detectTensorLayout(['model.language_model.layers.0.x', 'visual.y'], 'f')).toThrow(/mix the original layout/);
  });

  it('opens a renamed checkpoint to the same tensors and validates it against the manifest the same way', async () => {
    const orig = await openCheckpointDir(join(TINY_A, 'checkpoint'));
    const nested = await openCheckpointDir(join(dir, 'checkpoint'));
    expect(orig.layout).toBe('original');
    expect(nested.layout).toBe('hf-nested');
    const stored = (await SafetensorsFile.open(await fileSource(join(dir, 'checkpoint', 'model.safetensors')))).names;
    expect(stored.some((n) => n.startsWith('model.language_model.layers.'))).toBe(true);
    expect(stored.some((n) => n.startsWith('model.visual.'))).toBe(true);
    expect([...nested.tensors.keys()].sort()).toEqual([...orig.tensors.keys()].sort());
    const name = 'model.layers.1.self_attn.q_proj.weight';
    expect(await nested.read(name)).toEqual(await orig.read(name));
    expect(validateCheckpoint(nested, nested.config).expected.length).toBe(validateCheckpoint(orig, orig.config).expected.length);
  });

  it('refuses a checkpoint mixing both layouts, naming both', async () => {
    const mixed = await mkdtemp(join(tmpdir(), 'vilavt-layout-mixed-'));
    try {
      await cp(join(TINY_A, 'checkpoint'), mixed, { recursive: true });
      await renameTensors(mixed, (n) => (n.startsWith('visual.') ? n : nestedTensorName(n)));
      const err = await openCheckpointDir(mixed).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CheckpointError);
      expect(String((err as Error).message)).toMatch(/mix the original layout \(visual\..*\) and the newer Hugging Face layout \(model\.language_model\./);
    } finally {
      await rm(mixed, { recursive: true, force: true });
    }
  });

  it('gives the tiny-a golden outputs unchanged (f32 path)', async () => {
    const r = await runModelGolden(dir, await getGpu(), 'f32');
    expect(r.lines.filter((l) => !l.startsWith('PASS')), r.lines.join('\n')).toEqual([]);
    expect(r.ok).toBe(true);
    const scenarios = Object.keys(JSON.parse(await readFile(join(dir, 'scenarios.json'), 'utf8')).scenarios);
    for (const s of scenarios) expect(r.lines.some((l) => l.includes(` ${s}.`)), s).toBe(true);
  }, 300_000);
});
