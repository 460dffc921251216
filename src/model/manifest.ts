/**
 * The weights manifest (weights-manifest.json at the repository root, documented in docs/weights-manifest.md):
 * resolves, for a parsed config, the exact list of tensors the engine needs, and validates a checkpoint against
 * it before any GPU work, reporting every problem at once.
 */
import manifestJson from '../../weights-manifest.json' with { type: 'json' };
import type { Architecture, ModelConfig } from './config.js';
import { CheckpointError, type CheckpointProblem } from './errors.js';
import { isSafetensorsDtype, type SafetensorsDtype, type TensorInfo } from './safetensors.js';
import { awqShapes, parseAwqConfig, QWEIGHT, QZEROS, SCALES } from './awq.js';

export type Component = 'llm' | 'vision' | 'textEncoder' | 'textProj';
const COMPONENTS: readonly Component[] = ['llm', 'vision', 'textEncoder', 'textProj'];

export interface ManifestTensor {
  name: string;
  range?: string;
  shape: string[];
  role: string;
  component: Component;
  when?: string;
  optional?: boolean;
}

export interface ManifestIgnore {
  pattern: string;
  when?: string;
  reason: string;
}

export interface Manifest {
  version: number;
  dtypes: SafetensorsDtype[];
  architectures: Record<Architecture, Component[]>;
  tensors: ManifestTensor[];
  ignore: ManifestIgnore[];
}

/** One concrete tensor the engine expects for a given config. */
export interface ExpectedTensor {
  name: string;
  shape: number[];
  role: string;
  component: Component;
  /** Index substituted for `{i}` (layer / block), when the entry has a range. */
  index?: number;
  optional: boolean;
  dtypes: readonly SafetensorsDtype[];
}

class ManifestError extends Error {
  override readonly name = 'ManifestError';
}

/** Checks the manifest's structure (so a bad edit fails loudly at load, not as a wrong validation). */
export function parseManifest(json: unknown): Manifest {
  const fail = (msg: string): never => {
    throw new ManifestError(`weights-manifest.json: ${msg}`);
  };
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObj(json)) fail('not an object');
  const j = json as Record<string, unknown>;
  if (!Number.isInteger(j.version)) fail('version must be an integer');
  if (!Array.isArray(j.dtypes) || !j.dtypes.every(isSafetensorsDtype)) fail('dtypes must list safetensors dtypes');
  const archs = j.architectures;
  if (!isObj(archs)) fail('architectures must be an object');
  for (const a of ['vilavt', 'qwen2_5_vl']) {
    const comps = (archs as Record<string, unknown>)[a];
    if (!Array.isArray(comps) || !comps.every((c) => COMPONENTS.includes(c))) fail(`architectures.${a} must list components`);
  }
  if (!Array.isArray(j.tensors)) fail('tensors must be a list');
  const names = new Set<string>();
  for (const [k, t] of (j.tensors as unknown[]).entries()) {
    if (!isObj(t)) fail(`tensors[${k}] is not an object`);
    const e = t as Record<string, unknown>;
    if (typeof e.name !== 'string' || !e.name) fail(`tensors[${k}].name missing`);
    if (names.has(e.name as string)) fail(`tensors[${k}].name ${e.name} duplicated`);
    names.add(e.name as string);
    if ((e.name as string).includes('{i}') !== (typeof e.range === 'string')) fail(`${e.name}: '{i}' and range go together`);
    if (!Array.isArray(e.shape) || !e.shape.every((s) => typeof s === 'string')) fail(`${e.name}: shape must be strings`);
    if (typeof e.role !== 'string') fail(`${e.name}: role missing`);
    if (!COMPONENTS.includes(e.component as Component)) fail(`${e.name}: bad component ${String(e.component)}`);
    if (e.when !== undefined && typeof e.when !== 'string') fail(`${e.name}: when must be a string`);
    if (e.optional !== undefined && typeof e.optional !== 'boolean') fail(`${e.name}: optional must be boolean`);
  }
  if (!Array.isArray(j.ignore) || !j.ignore.every((g) => isObj(g) && typeof g.pattern === 'string' && typeof g.reason === 'string')) {
    fail('ignore must be a list of {pattern, reason, when?}');
  }
  return j as unknown as Manifest;
}

let bundled: Manifest | undefined;
/** The manifest shipped with the engine (validated once). */
export function defaultManifest(): Manifest {
  return (bundled ??= parseManifest(manifestJson));
}

/** Flat view of the config for formulas: `llm.hidden`, `vision.qaBlocks`, `textEncoder.headDim`, ... */
function configEnv(config: ModelConfig): Map<string, unknown> {
  const env = new Map<string, unknown>();
  for (const [group, obj] of Object.entries({
    llm: config.llm,
    vision: config.vision,
    textEncoder: config.textEncoder,
    textProj: config.textProj,
  })) {
    if (obj) for (const [k, v] of Object.entries(obj)) env.set(`${group}.${k}`, v);
  }
  return env;
}

/** Evaluates an integer formula: integers, dotted config fields, + - * /, parentheses. */
export function evalFormula(src: string, env: ReadonlyMap<string, unknown>): number {
  const tokens = src.match(/\s*([A-Za-z_][\w.]*|\d+|[-+*/()])/gy)?.map((t) => t.trim()) ?? [];
  if (tokens.join('') !== src.replace(/\s+/g, '')) throw new ManifestError(`formula "${src}": unexpected character`);
  let p = 0;
  const fail = (msg: string): never => {
    throw new ManifestError(`formula "${src}": ${msg}`);
  };
  const factor = (): number => {
    const t = tokens[p++];
    if (t === undefined) return fail('unexpected end');
    if (t === '(') {
      const v = expr();
      if (tokens[p++] !== ')') fail('missing )');
      return v;
    }
    if (/^\d+$/.test(t)) return Number(t);
    if (/^[A-Za-z_]/.test(t)) {
      const v = env.get(t);
      if (typeof v !== 'number' || !Number.isInteger(v)) fail(`${t} is not an integer config field`);
      return v as number;
    }
    return fail(`unexpected "${t}"`);
  };
  const term = (): number => {
    let v = factor();
    while (tokens[p] === '*' || tokens[p] === '/') {
      const op = tokens[p++];
      const r = factor();
      if (op === '*') v *= r;
      else {
        if (r === 0 || v % r !== 0) fail(`${v} / ${r} is not exact`);
        v /= r;
      }
    }
    return v;
  };
  const expr = (): number => {
    let v = term();
    while (tokens[p] === '+' || tokens[p] === '-') v = tokens[p++] === '+' ? v + term() : v - term();
    return v;
  };
  const v = expr();
  if (p !== tokens.length) fail(`trailing "${tokens[p]}"`);
  return v;
}

function evalWhen(cond: string | undefined, env: ReadonlyMap<string, unknown>): boolean {
  if (cond === undefined) return true;
  const neg = cond.startsWith('!');
  const key = neg ? cond.slice(1) : cond;
  const v = env.get(key);
  if (typeof v !== 'boolean') throw new ManifestError(`when "${cond}": ${key} is not a boolean config field`);
  return neg ? !v : v;
}

function rangeIndices(range: string, env: ReadonlyMap<string, unknown>): number[] {
  const v = env.get(range);
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return Array.from({ length: v }, (_, i) => i);
  if (Array.isArray(v) && v.every((x) => Number.isInteger(x))) return v as number[];
  throw new ManifestError(`range "${range}" is not a count or a list of indices`);
}

/** Every tensor the engine needs for `config`, in manifest order. */
export function resolveManifest(config: ModelConfig, manifest: Manifest = defaultManifest()): ExpectedTensor[] {
  const env = configEnv(config);
  const components = new Set(manifest.architectures[config.arch]);
  const out: ExpectedTensor[] = [];
  for (const t of manifest.tensors) {
    if (!components.has(t.component) || !evalWhen(t.when, env)) continue;
    const indices = t.range === undefined ? [undefined] : rangeIndices(t.range, env);
    for (const i of indices) {
      const e: ExpectedTensor = {
        name: i === undefined ? t.name : t.name.replaceAll('{i}', String(i)),
        shape: t.shape.map((s) => evalFormula(s, env)),
        role: t.role,
        component: t.component,
        optional: t.optional === true,
        dtypes: manifest.dtypes,
      };
      if (i !== undefined) e.index = i;
      out.push(e);
    }
  }
  return out;
}

function globToRegExp(pattern: string): RegExp {
  return new RegExp('^' + pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
}

/** What a checkpoint must offer for validation: where each tensor is (file name + header info). */
export interface TensorCatalog {
  tensors: ReadonlyMap<string, { file: string; info: TensorInfo }>;
}

export interface ValidationReport {
  expected: ExpectedTensor[];
  /** Tensors present but not in the manifest (warning only: the engine never reads them). */
  unexpected: string[];
  /** Tensors present and deliberately skipped (manifest `ignore`). */
  ignored: string[];
  /** Linear weights stored 4-bit (AWQ `.qweight`/`.qzeros`/`.scales` instead of `.weight`) -> group size. */
  quantized: Map<string, number>;
}

/** Whether the engine can run the weight `e` from 4-bit storage: every 2-D linear weight, not the embeddings. */
export function quantizable(e: Pick<ExpectedTensor, 'name' | 'shape' | 'role'>): boolean {
  return e.shape.length === 2 && e.name.endsWith('.weight') && !e.role.endsWith('.embed');
}

/** `P.weight` -> `P` + suffix (`.qweight`, `.qzeros`, `.scales`). */
export function quantName(weightName: string, suffix: string): string {
  return weightName.slice(0, -'.weight'.length) + suffix;
}

/**
 * Throws ONE CheckpointError listing every missing, misshaped or unsupported-dtype tensor. Unknown extra tensors
 * are returned as warnings.
 */
export function validateCheckpoint(
  checkpoint: TensorCatalog,
  config: ModelConfig,
  manifest: Manifest = defaultManifest(),
): ValidationReport {
  const env = configEnv(config);
  const expected = resolveManifest(config, manifest);
  const problems: CheckpointProblem[] = [];
  const files = new Set<string>();
  for (const { file } of checkpoint.tensors.values()) files.add(file);
  const quantized = new Map<string, number>();
  const quantNames = new Set<string>();
  let awq: ReturnType<typeof parseAwqConfig> | undefined;
  if (config.quantization !== undefined) {
    awq = parseAwqConfig(config.quantization);
    if ('problem' in awq) problems.push({ file: 'config.json', message: awq.problem });
  }
  for (const e of expected) {
    const found = checkpoint.tensors.get(e.name);
    const want = `${e.dtypes.join('|')}${JSON.stringify(e.shape)}`;
    if (!found && checkpoint.tensors.has(quantName(e.name, QWEIGHT))) {
      checkQuantized(checkpoint, e, awq, problems, quantized, quantNames);
      continue;
    }
    if (!found) {
      if (!e.optional) problems.push({ tensor: e.name, message: `missing (expected ${want}, role ${e.role})` });
      continue;
    }
    const { dtype, shape } = found.info;
    const shapeOk = shape.length === e.shape.length && shape.every((d, k) => d === e.shape[k]);
    const dtypeOk = e.dtypes.includes(dtype);
    if (!shapeOk || !dtypeOk) {
      const what = [!shapeOk && 'shape', !dtypeOk && 'unsupported dtype'].filter(Boolean).join(' and ');
      problems.push({ file: found.file, tensor: e.name, message: `${what}: found ${dtype}${JSON.stringify(shape)}, expected ${want}` });
    }
  }
  const expectedNames = new Set(expected.map((e) => e.name));
  const ignores = manifest.ignore.filter((g) => evalWhen(g.when, env)).map((g) => globToRegExp(g.pattern));
  const unexpected: string[] = [];
  const ignored: string[] = [];
  for (const name of checkpoint.tensors.keys()) {
    if (expectedNames.has(name) || quantNames.has(name)) continue;
    if (ignores.some((re) => re.test(name))) ignored.push(name);
    else unexpected.push(name);
  }
  if (problems.length) {
    const where = files.size ? ` (${[...files].sort().join(', ')})` : '';
    throw new CheckpointError(problems, `checkpoint${where} does not match the ${config.arch} manifest`);
  }
  return { expected, unexpected, ignored, quantized };
}

/**
 * Checks the AWQ trio standing in for weight `e` [out, in]: the quantization_config, the layer being one the
 * engine can run 4-bit, and dtype and shape of `.qweight` I32 [in, out/8], `.qzeros` I32 [in/g, out/8] and
 * `.scales` F16 [in/g, out] (g must divide in, 8 must divide out). Problems are collected, not thrown.
 */
function checkQuantized(checkpoint: TensorCatalog, e: ExpectedTensor, awq: ReturnType<typeof parseAwqConfig> | undefined,
  problems: CheckpointProblem[], quantized: Map<string, number>, quantNames: Set<string>): void {
  const qw = quantName(e.name, QWEIGHT);
  const file = checkpoint.tensors.get(qw)!.file;
  for (const suffix of [QWEIGHT, QZEROS, SCALES]) quantNames.add(quantName(e.name, suffix));
  if (!quantizable(e)) {
    problems.push({ file, tensor: qw, message: `${e.role} cannot be 4-bit in this engine (only linear layers; embeddings stay F16/BF16/F32)` });
    return;
  }
  if (!awq) {
    problems.push({ file, tensor: qw, message: 'a 4-bit tensor, but config.json has no quantization_config' });
    return;
  }
  if ('problem' in awq) return; // reported once for config.json
  const [out, inDim] = e.shape as [number, number];
  const g = awq.config.group;
  if (inDim % g !== 0) {
    problems.push({ file, tensor: qw, message: `group_size ${g} does not divide the input width ${inDim} of ${e.name} [${e.shape}]` });
    return;
  }
  if (out % 8 !== 0) {
    problems.push({ file, tensor: qw, message: `output width ${out} of ${e.name} is not a multiple of 8 (8 codes per word)` });
    return;
  }
  const shapes = awqShapes(out, inDim, g);
  const want: [string, SafetensorsDtype, number[]][] = [[QWEIGHT, 'I32', shapes.qweight], [QZEROS, 'I32', shapes.qzeros], [SCALES, 'F16', shapes.scales]];
  let ok = true;
  for (const [suffix, dtype, shape] of want) {
    const name = quantName(e.name, suffix);
    const found = checkpoint.tensors.get(name);
    if (!found) {
      problems.push({ tensor: name, message: `missing (expected ${dtype}${JSON.stringify(shape)}: ${e.name} is 4-bit, its ${QWEIGHT} exists)` });
      ok = false;
      continue;
    }
    const { dtype: d, shape: s } = found.info;
    if (d !== dtype || s.length !== shape.length || !s.every((v, i) => v === shape[i])) {
      problems.push({ file: found.file, tensor: name, message: `found ${d}${JSON.stringify(s)}, expected ${dtype}${JSON.stringify(shape)} (${e.name} [${e.shape}], group ${g})` });
      ok = false;
    }
  }
  if (ok) quantized.set(e.name, g);
}
