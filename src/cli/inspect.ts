/**
 * `vilavt inspect --model DIR|config.json [--context N] [--weight-dtype bf16|f16|f32] [--kv-dtype f16|f32]
 *  [--binding-limit BYTES]`: architecture, dtypes found, tensor counts by component, validation, memory plan.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { parseModelConfig, type ModelConfig } from '../model/config.js';
import { CheckpointError, ConfigError } from '../model/errors.js';
import { resolveManifest, validateCheckpoint, type Component } from '../model/manifest.js';
import { formatMemoryPlan, planMemory, WEBGPU_DEFAULT_LIMITS, type KvDtype, type WeightDtype } from '../model/memory-plan.js';
import { openCheckpointDir } from '../platform/node-file.js';

/** config.json is a few KB; anything this large is not one. */
const MAX_CONFIG_BYTES = 64 * 1024 * 1024;

const USAGE =
  'usage: vilavt inspect --model DIR|config.json [--context N] [--weight-dtype bf16|f16|f32] [--kv-dtype f16|f32] [--act f32|f16] [--binding-limit BYTES]';

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
        act: { type: 'string', default: 'f32' },
        'binding-limit': { type: 'string' },
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
  const ad = values.act;
  const ctx = Number(values.context);
  const limitArg = values['binding-limit'] === undefined ? undefined : Number(values['binding-limit']);
  if (!values.model || (wd !== 'bf16' && wd !== 'f16' && wd !== 'f32') || (kd !== 'f16' && kd !== 'f32') || (ad !== 'f16' && ad !== 'f32') ||
      !Number.isSafeInteger(ctx) || ctx < 1 || (limitArg !== undefined && !(Number.isSafeInteger(limitArg) && limitArg > 0))) {
    console.error(USAGE);
    return 2;
  }
  try {
    const path = values.model;
    const isDir = (await stat(path)).isDirectory();
    const lines: string[] = [];
    let config: ModelConfig;
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
    const limits = limitArg === undefined ? WEBGPU_DEFAULT_LIMITS : { maxBufferSize: limitArg, maxStorageBufferBindingSize: limitArg };
    const plan = planMemory(config, { contextTokens: ctx, weightDtype: wd as WeightDtype, kvDtype: kd as KvDtype, actDtype: ad as 'f32' | 'f16', limits });
    lines.push('', `memory plan (${wd} weights, ${kd} KV cache, ${ctx} tokens):`, formatMemoryPlan(plan));
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
