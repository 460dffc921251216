/**
 * `vilavt inspect --model DIR|config.json [--context N] [--weight-dtype bf16|f16|f32] [--kv-dtype f16|f32]
 *  [--binding-limit BYTES] [--buffer-limit BYTES] [--quant q4 [--group N]] [--json]`: architecture, dtypes found,
 * tensor counts by component, validation, memory plan. A 4-bit folder (quantization_config) is planned as stored;
 * `--quant q4` plans a float model as `vilavt quantize` would write it. `--json` prints one object.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { parseModelConfig, type ModelConfig } from '../model/config.js';
import { CheckpointError, ConfigError } from '../model/errors.js';
import { resolveManifest, validateCheckpoint, type Component } from '../model/manifest.js';
import { DEFAULT_GROUP, planQuantization, q4FromConfig } from '../model/quantize.js';
import { formatMemoryPlan, planMemory, WEBGPU_DEFAULT_LIMITS, type KvDtype, type WeightDtype } from '../model/memory-plan.js';
import { openCheckpointDir } from '../platform/node-file.js';

/** config.json is a few KB; anything this large is not one. */
const MAX_CONFIG_BYTES = 64 * 1024 * 1024;

const USAGE =
  'usage: vilavt inspect --model DIR|config.json [--context N] [--weight-dtype bf16|f16|f32] [--kv-dtype f16|f32] [--act f32|f16]\n' +
  '         [--binding-limit BYTES] [--buffer-limit BYTES] [--quant none|q4] [--group N] [--json]\n' +
  '  --quant q4 plans the 4-bit model `vilavt quantize` writes (group 128; f16 activations unless --act): linear layers\n' +
  '  4-bit, embedding tables in host memory. A folder with a quantization_config is planned as stored.';

function describeConfig(c: ModelConfig): string[] {
  const { llm, vision: v, textEncoder: te } = c;
  const out = [
    `architecture: ${c.arch} (model_type "${c.modelType}")`,
    `LLM: hidden ${llm.hidden}, ${llm.layers} layers, ${llm.heads}/${llm.kvHeads} heads x ${llm.headDim}, ` +
      `intermediate ${llm.intermediate}, vocab ${llm.vocab}, mrope ${JSON.stringify(llm.mropeSection)}, ` +
      `${llm.tieEmbeddings ? 'tied' : 'untied'} embeddings`,
    `ViT: hidden ${v.hidden}, depth ${v.depth}, ${v.heads} heads, intermediate ${v.intermediate}, window ${v.windowSize}px, ` +
      `full-attention ${JSON.stringify(v.fullattBlocks)}, integration_point ${v.integrationPoint} -> QA blocks ` +
      (v.qaBlocks.length ? `${v.qaBlocks[0]}..${v.qaBlocks.at(-1)} (${v.qaBlocks.length})` : 'none'),
  ];
  if (te) {
    out.push(
      `text encoder: hidden ${te.hidden}, ${te.layers} layers, ${te.heads}/${te.kvHeads} heads x ${te.headDim}, ` +
        `intermediate ${te.intermediate}, vocab ${te.vocab}; text_proj ${c.textProj!.inDim}->${c.textProj!.outDim}`,
    );
  }
  return out;
}

export async function inspectMain(argv: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' },
        context: { type: 'string', default: '8192' },
        'weight-dtype': { type: 'string', default: 'bf16' },
        'kv-dtype': { type: 'string', default: 'f16' },
        act: { type: 'string' },
        'binding-limit': { type: 'string' },
        'buffer-limit': { type: 'string' },
        quant: { type: 'string', default: 'none' },
        group: { type: 'string', default: String(DEFAULT_GROUP) },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const wd = values['weight-dtype'];
  const kd = values['kv-dtype'];
  const quant = values.quant;
  const ad = values.act ?? (quant === 'q4' ? 'f16' : 'f32');
  const ctx = Number(values.context);
  const group = Number(values.group);
  const limitArg = values['binding-limit'] === undefined ? undefined : Number(values['binding-limit']);
  const bufferArg = values['buffer-limit'] === undefined ? undefined : Number(values['buffer-limit']);
  const positive = (v: number | undefined) => v === undefined || (Number.isSafeInteger(v) && v > 0);
  if (!values.model || (wd !== 'bf16' && wd !== 'f16' && wd !== 'f32') || (kd !== 'f16' && kd !== 'f32') || (ad !== 'f16' && ad !== 'f32') ||
      !Number.isSafeInteger(ctx) || ctx < 1 || !positive(limitArg) || !positive(bufferArg) || (quant !== 'none' && quant !== 'q4') ||
      !Number.isInteger(group) || group < 8 || group % 8 !== 0) {
    console.error(USAGE);
    return 2;
  }
  try {
    const path = values.model;
    const isDir = (await stat(path)).isDirectory();
    const lines: string[] = [];
    let config: ModelConfig;
    let q4: Map<string, number> | undefined;
    const hasWeights = isDir && (await readdir(path)).some((f) => f.endsWith('.safetensors') || f === 'model.safetensors.index.json');
    if (hasWeights) {
      const ckpt = await openCheckpointDir(path);
      config = ckpt.config;
      lines.push(`model: ${path}`, ...describeConfig(config));
      const dtypes = new Map<string, number>();
      for (const { info } of ckpt.tensors.values()) dtypes.set(info.dtype, (dtypes.get(info.dtype) ?? 0) + 1);
      lines.push(`weight files: ${[...ckpt.files.keys()].join(', ')}`);
      lines.push(`dtypes found: ${[...dtypes].map(([d, n]) => `${d} x ${n}`).join(', ')}`);
      for (const w of ckpt.warnings) lines.push(`warning: ${w}`);
      let report;
      try {
        report = validateCheckpoint(ckpt, config);
      } catch (e) {
        console.log(lines.join('\n'));
        throw e;
      }
      const byComp = new Map<Component, number>();
      for (const t of report.expected) byComp.set(t.component, (byComp.get(t.component) ?? 0) + 1);
      lines.push(`tensors: ${ckpt.tensors.size} in files; manifest: ${[...byComp].map(([c, n]) => `${c} ${n}`).join(', ')}`);
      lines.push('validation: OK');
      if (report.quantized.size) {
        q4 = report.quantized;
        lines.push(`4-bit: ${report.quantized.size} linear weights (AWQ, group ${[...new Set(report.quantized.values())].join('/')})`);
      }
      if (report.ignored.length) lines.push(`ignored: ${report.ignored.join(', ')}`);
      if (report.unexpected.length) lines.push(`warning: ${report.unexpected.length} tensor(s) not in the manifest: ${report.unexpected.slice(0, 8).join(', ')}`);
    } else {
      const file = isDir ? `${path}/config.json` : path;
      const st = await stat(file);
      if (!st.isFile() || st.size > MAX_CONFIG_BYTES) throw new ConfigError(file, '(root)', `not a config file (${st.isFile() ? `${st.size} bytes` : 'not a regular file'})`);
      let raw: unknown;
      try {
        raw = JSON.parse(await readFile(file, 'utf8'));
      } catch (e) {
        throw new ConfigError(file, '(root)', `invalid JSON: ${(e as Error).message}`);
      }
      config = parseModelConfig(raw, basename(file));
      lines.push(`config: ${file} (no weights)`, ...describeConfig(config));
      const byComp = new Map<Component, number>();
      for (const t of resolveManifest(config)) byComp.set(t.component, (byComp.get(t.component) ?? 0) + 1);
      lines.push(`expected tensors: ${[...byComp].map(([c, n]) => `${c} ${n}`).join(', ')}`);
    }
    if (!q4 && !hasWeights) q4 = q4FromConfig(config) ?? undefined; // a bare 4-bit config.json
    if (!q4 && quant === 'q4') {
      const { quantize } = planQuantization(resolveManifest(config), { group, keep: [] });
      q4 = new Map(quantize.map((e) => [e.name, group]));
    }
    const limits = {
      maxStorageBufferBindingSize: limitArg ?? WEBGPU_DEFAULT_LIMITS.maxStorageBufferBindingSize,
      maxBufferSize: bufferArg ?? limitArg ?? WEBGPU_DEFAULT_LIMITS.maxBufferSize,
    };
    const plan = planMemory(config, {
      contextTokens: ctx, weightDtype: wd as WeightDtype, kvDtype: kd as KvDtype, actDtype: ad as 'f32' | 'f16', limits,
      ...(q4 ? { q4, embeddingsOnHost: true } : {}),
    });
    if (values.json) {
      console.log(JSON.stringify({
        model: path,
        architecture: config.arch,
        quant: q4 ? { kind: 'q4', tensors: q4.size, groups: [...new Set(q4.values())] } : null,
        weight_dtype: wd, kv_dtype: kd, act_dtype: ad, context_tokens: ctx,
        limits: { max_storage_buffer_binding_size: limits.maxStorageBufferBindingSize, max_buffer_size: limits.maxBufferSize },
        weights: plan.weights.map((g) => ({ label: g.label, component: g.component, tensors: g.tensors, params: g.params, bytes: g.bytes })),
        weight_bytes: plan.weightBytes,
        host_bytes: plan.hostBytes,
        kv_cache_bytes: plan.kvCache.bytes,
        scratch_bytes: plan.scratch.bytes,
        total_bytes: plan.total,
        split_tensors: plan.splits.length,
        fits: plan.fits,
        problems: plan.problems,
      }));
      return 0;
    }
    lines.push('', `memory plan (${q4 ? `4-bit linears, ${wd} otherwise` : `${wd} weights`}, ${kd} KV cache, ${ctx} tokens, ${ad} activations):`, formatMemoryPlan(plan));
    console.log(lines.join('\n'));
    return 0;
  } catch (e) {
    if (e instanceof CheckpointError || e instanceof ConfigError || (e as NodeJS.ErrnoException).code === 'ENOENT' || e instanceof SyntaxError) {
      console.error(`error: ${(e as Error).message}`);
      return 1;
    }
    throw e;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  inspectMain(process.argv.slice(2)).then((code) => process.exit(code));
}
