/**
 * `vilavt quantize --model IN --out OUT [--group 128] [--keep PREFIX,...]`: writes a 4-bit AWQ-layout checkpoint
 * (src/model/awq.ts) from a float one, round-to-nearest with AutoAWQ's zero-point rule (src/model/quantize.ts).
 * Streams: one input shard at a time, one tensor at a time, each output shard written straight to disk (its
 * header is known up front from the input shapes). OUT gets sharded safetensors + model.safetensors.index.json,
 * config.json with `quantization_config` added (every other key kept), and every non-weight file of IN
 * (tokenizer, chat template, preprocessor and generation configs) copied.
 */
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, writeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openCheckpointDir } from '../platform/node-file.js';
import { INDEX_FILE } from '../model/checkpoint.js';
import { validateCheckpoint } from '../model/manifest.js';
import { DEFAULT_GROUP, planQuantization, quantizeRtn } from '../model/quantize.js';
import { q4ToAwq, QWEIGHT, QZEROS, SCALES } from '../model/awq.js';
import { DTYPE_BYTES, type SafetensorsDtype } from '../model/safetensors.js';
import { decode } from '../runtime/dtype.js';
import { CliError, UsageError } from './fail.js';
import { parseCommand } from './args.js';

const USAGE = 'usage: vilavt quantize --model IN --out OUT [--group N (default 128)] [--keep PREFIX,...]';

/** Files that hold weights in some format: never copied. */
const WEIGHT_FILE = /\.(safetensors|bin|pt|pth|ckpt|gguf)$|\.safetensors\.index\.json$|\.bin\.index\.json$/;

interface OutTensor { name: string; dtype: SafetensorsDtype; shape: number[]; bytes: number; produce: () => Promise<Uint8Array[]> }

export async function quantizeMain(argv: string[], log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<number> {
  const parsed = parseCommand({ args: argv, options: {
    model: { type: 'string' }, out: { type: 'string' }, group: { type: 'string', default: String(DEFAULT_GROUP) },
    keep: { type: 'string', default: '' }, help: { type: 'boolean', short: 'h', default: false },
  } }, USAGE);
  if (!parsed) return 0;
  const values = parsed.values;
  const group = Number(values.group);
  if (!values.model || !values.out) throw new UsageError(`--model and --out are required\n${USAGE}`);
  if (!Number.isInteger(group) || group < 8 || group % 8 !== 0) throw new UsageError(`--group must be a positive multiple of 8, got ${values.group}\n${USAGE}`);
  const inDir = values.model;
  const outDir = values.out;
  if (existsSync(outDir) && readdirSync(outDir).length) throw new CliError(`--out ${outDir} exists and is not empty`);

  const ckpt = await openCheckpointDir(inDir);
  if (ckpt.config.quantization !== undefined) throw new CliError(`${inDir}: config.json already has a quantization_config`);
  const report = validateCheckpoint(ckpt, ckpt.config);
  const keep = values.keep.split(',').map((s) => s.trim()).filter(Boolean);
  const { quantize, keptLinears } = planQuantization(report.expected, { group, keep });
  const toQuantize = new Map(quantize.map((e) => [e.name, e]));
  log(`quantize: ${quantize.length} linear weights to 4-bit (group ${group}); ${keptLinears.length} linear(s) kept in floating point`);

  // Output tensors per input shard, in the input's order (quantized weights become their three AWQ tensors).
  const byShard = new Map<string, string[]>();
  for (const [name, loc] of ckpt.tensors) (byShard.get(loc.file) ?? byShard.set(loc.file, []).get(loc.file)!).push(name);
  const shards = [...byShard.keys()].sort();
  mkdirSync(outDir, { recursive: true });
  const weightMap: Record<string, string> = {};
  let totalSize = 0;
  let done = 0;
  const total = ckpt.tensors.size;
  for (const [si, shard] of shards.entries()) {
    const outName = `model-${String(si + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`;
    const tensors: OutTensor[] = [];
    for (const name of byShard.get(shard)!) {
      const info = ckpt.tensors.get(name)!.info;
      const e = toQuantize.get(name);
      if (!e) {
        tensors.push({ name, dtype: info.dtype, shape: info.shape, bytes: info.byteLength, produce: async () => [await ckpt.read(name)] });
        continue;
      }
      const [out, inDim] = e.shape as [number, number];
      const base = name.slice(0, -'.weight'.length);
      let awq: ReturnType<typeof q4ToAwq> | null = null;
      const get = async () => {
        awq ??= q4ToAwq(quantizeRtn(decode(await ckpt.read(name), info.dtype === 'BF16' ? 'bf16' : info.dtype === 'F16' ? 'f16' : 'f32', out * inDim), out, inDim, group));
        return awq;
      };
      const u8 = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
      tensors.push(
        { name: base + QWEIGHT, dtype: 'I32', shape: [inDim, out / 8], bytes: inDim * out / 2, produce: async () => [u8((await get()).qweight)] },
        { name: base + QZEROS, dtype: 'I32', shape: [inDim / group, out / 8], bytes: inDim / group * out / 2, produce: async () => [u8((await get()).qzeros)] },
        { name: base + SCALES, dtype: 'F16', shape: [inDim / group, out], bytes: inDim / group * out * 2, produce: async () => { const a = (await get()).scales; awq = null; return [u8(a)]; } },
      );
    }
    totalSize += await writeShard(join(outDir, outName), tensors);
    for (const t of tensors) weightMap[t.name] = outName;
    done += byShard.get(shard)!.length;
    log(`quantize: ${outName} written (${shard}; ${done}/${total} tensors, ${Math.round((100 * done) / total)}%)`);
  }
  writeFileSync(join(outDir, INDEX_FILE), `${JSON.stringify({ metadata: { total_size: totalSize }, weight_map: weightMap }, null, 2)}\n`);

  // config.json: the original text's keys, in order, plus quantization_config.
  const config = JSON.parse(readFileSync(join(inDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  config.quantization_config = {
    bits: 4, group_size: group, quant_method: 'awq', version: 'gemm', zero_point: true,
    modules_to_not_convert: keptLinears,
  };
  writeFileSync(join(outDir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  copyNonWeights(inDir, outDir, log);
  log(`quantize: wrote ${outDir} (${(totalSize / 2 ** 30).toFixed(2)} GiB of weights)`);
  return 0;
}

/** Writes one safetensors file tensor by tensor (the header is built from the declared sizes first). */
async function writeShard(path: string, tensors: OutTensor[]): Promise<number> {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const t of tensors) {
    if (t.bytes !== t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype]) throw new Error(`${t.name}: size does not match its shape`);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes] };
    offset += t.bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const fd = openSync(path, 'w');
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
    writeSync(fd, len);
    writeSync(fd, json);
    for (const t of tensors) {
      let n = 0;
      for (const part of await t.produce()) { writeSync(fd, part); n += part.byteLength; }
      if (n !== t.bytes) throw new Error(`${t.name}: produced ${n} bytes, declared ${t.bytes}`);
    }
  } finally {
    closeSync(fd);
  }
  return offset;
}

/** Tokenizer, chat template, preprocessor and generation files (anything that is not a weight file). */
function copyNonWeights(inDir: string, outDir: string, log: (l: string) => void): void {
  for (const f of readdirSync(inDir)) {
    const src = join(inDir, f);
    if (f === 'config.json' || WEIGHT_FILE.test(f)) continue;
    const st = statSync(src);
    if (st.isDirectory()) {
      mkdirSync(join(outDir, f), { recursive: true });
      copyNonWeights(src, join(outDir, f), () => {});
    } else if (st.isFile()) copyFileSync(src, join(outDir, f));
    else continue;
    log(`quantize: copied ${f}`);
  }
}
