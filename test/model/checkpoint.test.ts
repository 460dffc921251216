import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { inspectMain } from '../../src/cli/inspect.js';
import { bytesSource } from '../../src/model/byte-source.js';
import { openCheckpoint, type CheckpointFile } from '../../src/model/checkpoint.js';
import { CheckpointError } from '../../src/model/errors.js';
import { validateCheckpoint } from '../../src/model/manifest.js';
import { encodeSafetensors, SafetensorsFile, type TensorToEncode } from '../../src/model/safetensors.js';
import { makeTinyCheckpoint, tinyADims, type TinyCheckpointOptions } from '../../src/model/tiny-checkpoint.js';
import { openCheckpointDir } from '../../src/platform/node-file.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tinyDir = join(root, 'test/fixtures/golden/tiny-a/checkpoint');
const tmp = mkdtempSync(join(tmpdir(), 'vilavt-ckpt-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const asSources = (files: { name: string; bytes: Uint8Array }[]): CheckpointFile[] =>
  files.map((f) => ({ name: f.name, source: bytesSource(f.bytes, f.name) }));
const tiny = (over: Partial<TinyCheckpointOptions> = {}) =>
  makeTinyCheckpoint({ ...tinyADims(), dtype: 'bf16', seed: 7, ...over }).files;

/** The tiny-a files in memory, with the weights rewritten by `edit` and config.json by `editConfig`. */
async function tinyAVariant(
  edit: (tensors: TensorToEncode[]) => TensorToEncode[],
  editConfig: (c: Record<string, any>) => void = () => {},
): Promise<CheckpointFile[]> {
  const st = await SafetensorsFile.open(bytesSource(readFileSync(join(tinyDir, 'model.safetensors')), 'model.safetensors'));
  const tensors = await Promise.all(st.names.map(async (name) => ({ name, ...st.info(name), data: await st.readRaw(name) })));
  const config = JSON.parse(readFileSync(join(tinyDir, 'config.json'), 'utf8'));
  editConfig(config);
  return asSources([
    { name: 'config.json', bytes: new TextEncoder().encode(JSON.stringify(config)) },
    { name: 'generation_config.json', bytes: readFileSync(join(tinyDir, 'generation_config.json')) },
    { name: 'preprocessor_config.json', bytes: readFileSync(join(tinyDir, 'preprocessor_config.json')) },
    { name: 'model.safetensors', bytes: encodeSafetensors(edit(tensors)) },
  ]);
}

async function checkpointError(p: Promise<unknown> | (() => unknown)): Promise<CheckpointError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(CheckpointError);
    return e as CheckpointError;
  }
  throw new Error('expected a CheckpointError');
}

describe('golden tiny-a checkpoint', () => {
  it('opens from disk and validates with no extra tensors', async () => {
    const ck = await openCheckpointDir(tinyDir);
    expect(ck.config.arch).toBe('vilavt');
    expect(ck.generation.eosTokenIds).toEqual([302, 300]);
    expect(ck.preprocessor.maxPixels).toBe(12845056);
    expect(ck.warnings).toEqual([]);
    const report = validateCheckpoint(ck, ck.config);
    // README: 2 LLM layers (12 tensors each) + embed + norm + lm_head; 4 ViT blocks (12 each) + 2 QA blocks (4 each)
    // + patch embed + 5 merger; 2 text-encoder layers (11 each) + embed + norm; text_proj weight + bias.
    expect(report.expected).toHaveLength(2 * 12 + 3 + (4 * 12 + 2 * 4 + 1 + 5) + (2 * 11 + 2) + 2);
    expect(report.unexpected).toEqual([]);
    expect(report.ignored).toEqual([]);
    const w = await ck.readF32('visual.merger.mlp.2.weight');
    expect(w.length).toBe(64 * 128);
    expect(w.some((x) => x !== 0)).toBe(true);
  });
});

describe('generated tiny checkpoints', () => {
  it('with tiny-a dimensions: same tensor names and shapes as the golden checkpoint', async () => {
    const golden = await SafetensorsFile.open(bytesSource(readFileSync(join(tinyDir, 'model.safetensors')), 'model.safetensors'));
    const ck = await openCheckpoint(asSources(tiny()));
    const shapes = (m: Iterable<[string, number[]]>) => Object.fromEntries([...m].sort());
    expect(shapes([...ck.tensors].map(([n, t]) => [n, t.info.shape]))).toEqual(shapes(golden.names.map((n) => [n, golden.info(n).shape])));
    // config.json has the golden layout: same keys at every level (values differ only in generator provenance)
    const gcfg = JSON.parse(readFileSync(join(tinyDir, 'config.json'), 'utf8'));
    const cfg = JSON.parse(new TextDecoder().decode(tiny().find((f) => f.name === 'config.json')!.bytes));
    for (const k of ['', 'text_config', 'vision_config', 'text_encoder_config']) {
      const pick = (o: any) => Object.keys(k ? o[k] : o).filter((x) => x !== 'transformers_version').sort();
      expect(pick(cfg)).toEqual(pick(gcfg));
    }
    expect(cfg.tiny_special_tokens).toEqual(gcfg.tiny_special_tokens);
  });

  it('sharded (3) untied, tied, f16, f32 and plain qwen2_5_vl checkpoints validate', async () => {
    const sharded = tiny({ shards: 3 });
    expect(sharded.map((f) => f.name).filter((n) => n.startsWith('model'))).toEqual([
      'model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors', 'model.safetensors.index.json',
    ]);
    const ck = await openCheckpoint(asSources(sharded));
    expect(new Set([...ck.tensors.values()].map((t) => t.file)).size).toBe(3);
    expect(validateCheckpoint(ck, ck.config).unexpected).toEqual([]);
    // same seed, one file: identical bytes per tensor
    const single = await openCheckpoint(asSources(tiny()));
    for (const name of ['model.embed_tokens.weight', 'visual.blocks.3.attn.instruct_value_proj.bias', 'text_proj.weight']) {
      expect(await ck.read(name)).toEqual(await single.read(name));
    }

    const tied = await openCheckpoint(asSources(tiny({ tieEmbeddings: true, shards: 2 })));
    expect(tied.tensors.has('lm_head.weight')).toBe(false);
    expect(validateCheckpoint(tied, tied.config).expected.some((t) => t.name === 'lm_head.weight')).toBe(false);

    for (const dtype of ['f16', 'f32'] as const) {
      const c = await openCheckpoint(asSources(tiny({ dtype })));
      validateCheckpoint(c, c.config);
      expect(c.tensors.get('model.norm.weight')!.info.dtype).toBe(dtype === 'f16' ? 'F16' : 'F32');
    }

    const plainOpts = tinyADims();
    delete plainOpts.textEncoder;
    plainOpts.vision.integrationPoint = 'none';
    const plain = await openCheckpoint(asSources(makeTinyCheckpoint({ ...plainOpts, dtype: 'bf16', seed: 1 }).files));
    expect(plain.config.arch).toBe('qwen2_5_vl');
    expect([...plain.tensors.keys()].some((n) => n.startsWith('text_') || n.includes('instruct'))).toBe(false);
    validateCheckpoint(plain, plain.config);
  });

  it('random weights: seeded, non-zero, small std; norms near 1', async () => {
    const a = await openCheckpoint(asSources(tiny({ dtype: 'f32' })));
    const w = await a.readF32('model.layers.0.mlp.up_proj.weight');
    const mean = w.reduce((s, x) => s + x, 0) / w.length;
    const std = Math.sqrt(w.reduce((s, x) => s + (x - mean) ** 2, 0) / w.length);
    expect(w.every((x) => x !== 0)).toBe(true);
    expect(Math.abs(mean)).toBeLessThan(0.01); // 8192 samples of N(0, 0.05): |mean| < 0.01 is > 18 sigma
    expect(std).toBeGreaterThan(0.045);
    expect(std).toBeLessThan(0.055);
    const n = await a.readF32('model.norm.weight');
    expect(n.every((x) => Math.abs(x - 1) < 0.3)).toBe(true);
    const b = await openCheckpoint(asSources(tiny({ dtype: 'f32', seed: 8 })));
    expect(await b.read('model.norm.weight')).not.toEqual(await a.read('model.norm.weight'));
  });

  it('the script writes a folder that openCheckpointDir reads; tied lm_head copies are ignored', async () => {
    const dir = join(tmp, 'script');
    execFileSync(process.execPath, ['--import', 'tsx', join(root, 'scripts/make-tiny-checkpoint.ts'), dir, '--shards', '2', '--tied', '--seed', '3'], { cwd: root });
    const ck = await openCheckpointDir(dir);
    expect(ck.files.size).toBe(2);
    expect(ck.config.llm.tieEmbeddings).toBe(true);
    expect(validateCheckpoint(ck, ck.config).unexpected).toEqual([]);
    // a saved copy of the tied head is harmless: ignored, not an error
    const withHead: TensorToEncode[] = [{ name: 'lm_head.weight', dtype: 'BF16', shape: [320, 64], data: new Uint8Array(320 * 64 * 2) }];
    const catalog = { tensors: new Map([...ck.tensors, ...withHead.map((t) => [t.name, { file: 'x', info: { ...t, byteOffset: 0, byteLength: 0 } }] as const)]) };
    expect(validateCheckpoint(catalog, ck.config).ignored).toEqual(['lm_head.weight']);
  });
});

describe('invalid checkpoints: one error listing every problem', () => {
  it('missing, misshaped and unsupported-dtype tensors, plus extra tensors as warnings', async () => {
    const files = await tinyAVariant((ts) => {
      const out = ts.filter((t) => t.name !== 'visual.blocks.2.attn.instruct_key_proj.weight' && t.name !== 'text_encoder.norm.weight');
      const up = out.find((t) => t.name === 'model.layers.1.mlp.up_proj.weight')!;
      up.shape = [64, 128]; // transposed: same byte count, wrong layout
      const bias = out.find((t) => t.name === 'text_proj.bias')!;
      bias.dtype = 'I16'; // same byte count, not a float
      out.push({ name: 'visual.sep_token_embedding.weight', dtype: 'BF16', shape: [1, 32], data: new Uint8Array(64) });
      out.push({ name: 'mystery.weight', dtype: 'F32', shape: [2], data: new Uint8Array(8) });
      return out;
    });
    const ck = await openCheckpoint(files);
    const e = await checkpointError(() => validateCheckpoint(ck, ck.config));
    expect(e.problems.map((p) => p.tensor).sort()).toEqual([
      'model.layers.1.mlp.up_proj.weight', 'text_encoder.norm.weight', 'text_proj.bias', 'visual.blocks.2.attn.instruct_key_proj.weight',
    ]);
    expect(e.message).toMatch(/^checkpoint \(model\.safetensors\) does not match the vilavt manifest \(4\):/);
    expect(e.message).toContain('visual.blocks.2.attn.instruct_key_proj.weight: missing (expected BF16|F16|F32[32,32], role vit.instruct_k)');
    expect(e.message).toContain('model.safetensors: model.layers.1.mlp.up_proj.weight: shape: found BF16[64,128], expected BF16|F16|F32[128,64]');
    expect(e.message).toContain('model.safetensors: text_proj.bias: unsupported dtype: found I16[32]');
    // without the broken ones, the extras are warnings only
    const ok = await openCheckpoint(await tinyAVariant((ts) => [
      ...ts,
      { name: 'visual.sep_token_embedding.weight', dtype: 'BF16', shape: [1, 32], data: new Uint8Array(64) },
      { name: 'visual.rotary_pos_emb.inv_freq', dtype: 'F32', shape: [4], data: new Uint8Array(16) },
      { name: 'mystery.weight', dtype: 'F32', shape: [2], data: new Uint8Array(8) },
    ]));
    const r = validateCheckpoint(ok, ok.config);
    expect(r.unexpected).toEqual(['mystery.weight']);
    expect(r.ignored.sort()).toEqual(['visual.rotary_pos_emb.inv_freq', 'visual.sep_token_embedding.weight']);
  });

  it('a config that needs more tensors than the file has (integration_point all) lists each one', async () => {
    const ck = await openCheckpoint(await tinyAVariant((ts) => ts, (c) => (c.vision_config.integration_point = 'all')));
    const e = await checkpointError(() => validateCheckpoint(ck, ck.config));
    const names = ['key', 'value'].flatMap((kv) => [0, 1].flatMap((b) => ['weight', 'bias'].map((wb) => `visual.blocks.${b}.attn.instruct_${kv}_proj.${wb}`)));
    expect(e.problems.map((p) => p.tensor).sort()).toEqual(names.sort());
  });

  it('truncated shard, corrupt shard header, missing shard and bad index entries', async () => {
    const files = tiny({ shards: 3 });
    const byName = new Map(files.map((f) => [f.name, f.bytes]));
    const index = JSON.parse(new TextDecoder().decode(byName.get('model.safetensors.index.json')!));
    const shard2 = 'model-00002-of-00003.safetensors';
    const s2 = await SafetensorsFile.open(bytesSource(byName.get(shard2)!, shard2));
    const lastInShard2 = s2.names.reduce((a, b) => (s2.info(a).byteOffset > s2.info(b).byteOffset ? a : b));

    // truncated shard 2 + garbage shard 3
    const broken = new Map(byName);
    broken.set(shard2, byName.get(shard2)!.subarray(0, byName.get(shard2)!.byteLength - 10));
    broken.set('model-00003-of-00003.safetensors', new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 9]));
    const e1 = await checkpointError(openCheckpoint([...broken].map(([name, b]) => ({ name, source: bytesSource(b, name) }))));
    expect(e1.message).toMatch(/^cannot open checkpoint weights \(2\):/);
    expect(e1.problems[0]).toMatchObject({ file: shard2 });
    expect(e1.problems[0]!.message).toMatch(new RegExp(`^truncated: .*\\(1 tensor\\(s\\) past the end, first ${lastInShard2.replaceAll('.', '\\.')}\\)`));
    expect(e1.problems[1]!.file).toBe('model-00003-of-00003.safetensors');
    expect(e1.problems[1]!.message).toMatch(/header length \d+ exceeds/);

    // index naming a missing shard, a tensor that is not in its shard, and a path outside the folder
    const wm = { ...index.weight_map, 'extra.weight': 'model-00001-of-00003.safetensors', 'far.weight': '../x.safetensors', 'gone.weight': 'model-00009-of-00009.safetensors' };
    const badIndex = new Map(byName);
    badIndex.set('model.safetensors.index.json', new TextEncoder().encode(JSON.stringify({ weight_map: wm })));
    const e2 = await checkpointError(openCheckpoint([...badIndex].map(([name, b]) => ({ name, source: bytesSource(b, name) }))));
    expect(e2.problems).toHaveLength(3);
    expect(e2.message).toContain('model.safetensors.index.json: far.weight: shard "../x.safetensors" is not a file name in this folder');
    expect(e2.message).toContain('model-00001-of-00003.safetensors: extra.weight: listed in model.safetensors.index.json but not in this shard');
    expect(e2.message).toContain('model-00009-of-00009.safetensors: missing (referenced by model.safetensors.index.json)');

    // index that is not JSON / has no weight_map
    for (const text of ['{"weight_map": ', '{"metadata": {}}']) {
      const m = new Map(byName);
      m.set('model.safetensors.index.json', new TextEncoder().encode(text));
      const e = await checkpointError(openCheckpoint([...m].map(([name, b]) => ({ name, source: bytesSource(b, name) }))));
      expect(e.file).toBe('model.safetensors.index.json');
    }
  });

  it('no weights, or no config.json, is an error naming the file', async () => {
    const noWeights = tiny().filter((f) => f.name.endsWith('.json'));
    expect((await checkpointError(openCheckpoint(asSources(noWeights)))).message).toMatch(/model\.safetensors: missing/);
    const noConfig = tiny().filter((f) => f.name !== 'config.json');
    expect((await checkpointError(openCheckpoint(asSources(noConfig)))).message).toBe('config.json: missing from the checkpoint');
  });
});

describe('vilavt inspect', () => {
  it('prints the architecture, dtypes, counts and memory plan; exit code 1 on a bad checkpoint', async () => {
    const out: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((s: string) => void out.push(s));
    const err = vi.spyOn(console, 'error').mockImplementation((s: string) => void out.push(s));
    try {
      expect(await inspectMain(['--model', tinyDir])).toBe(0);
      const text = out.join('\n');
      expect(text).toContain('architecture: vilavt');
      expect(text).toContain('dtypes found: BF16 x 115');
      expect(text).toContain('manifest: vision 62, llm 27, textEncoder 24, textProj 2');
      expect(text).toMatch(/KV cache \(8,192 tokens, f16, 256 B\/token\)\s+2\.0 MiB/); // 2 layers*2*2 heads*16*2 B
      out.length = 0;
      expect(await inspectMain(['--model', join(root, 'test/fixtures/vilavt-7b/config.json')])).toBe(0);
      expect(out.join('\n')).toContain('expected tensors: vision 454, llm 339, textEncoder 310, textProj 2');
      out.length = 0;
      const bad = join(tmp, 'bad');
      execFileSync(process.execPath, ['--import', 'tsx', join(root, 'scripts/make-tiny-checkpoint.ts'), bad], { cwd: root });
      rmSync(join(bad, 'config.json'));
      expect(await inspectMain(['--model', bad])).toBe(1);
      expect(out.join('\n')).toContain('config.json: missing from the checkpoint');
      expect(await inspectMain([])).toBe(2);
    } finally {
      log.mockRestore();
      err.mockRestore();
    }
  });
});
