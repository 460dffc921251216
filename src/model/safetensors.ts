/**
 * Streaming safetensors reader (and a small writer). Reads only the header and the byte ranges of the tensors
 * asked for, through a ByteSource, so a 17 GB checkpoint is never loaded whole.
 *
 * Format: u64 little-endian header length N, N bytes of JSON `{name: {dtype, shape, data_offsets: [b, e]},
 * "__metadata__"?: {..}}`, then the data section; offsets are relative to the data section start (8 + N).
 */
import type { ByteSource } from './byte-source.js';
import { CheckpointError, type CheckpointProblem } from './errors.js';
import { decode } from '../runtime/dtype.js';
import { duplicateTopLevelKeys } from './json-duplicate-keys.js';
import { jsonSnippet } from '../util/json-bounded.js';

export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export const DTYPE_BYTES: Readonly<Record<SafetensorsDtype, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

export function isSafetensorsDtype(s: unknown): s is SafetensorsDtype {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_BYTES, s);
}

const INTEGER_DTYPES: ReadonlySet<SafetensorsDtype> = new Set(['I64', 'I32', 'I16', 'I8', 'U8', 'BOOL']);

/** Where a tensor lives. `byteOffset` is absolute within the file (header included). */
export interface TensorInfo {
  dtype: SafetensorsDtype;
  shape: number[];
  byteOffset: number;
  byteLength: number;
}

/** Headers of real checkpoints are < 1 MB; a larger claim means a corrupt or hostile file. */
export const DEFAULT_MAX_HEADER_BYTES = 100 * 1024 * 1024;

const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Copies `raw` when its offset is not aligned for an `itemBytes` typed-array view. */
function aligned(raw: Uint8Array, itemBytes: number): Uint8Array {
  return raw.byteOffset % itemBytes === 0 ? raw : raw.slice();
}

export class SafetensorsFile {
  private constructor(
    readonly source: ByteSource,
    /** Length of the JSON header in bytes (data starts at 8 + headerLength). */
    readonly headerLength: number,
    readonly metadata: Readonly<Record<string, unknown>> | undefined,
    private readonly entries: ReadonlyMap<string, TensorInfo>,
  ) {}

  /** Reads and validates the header; throws one CheckpointError listing every bad entry. */
  static async open(source: ByteSource, opts: { maxHeaderBytes?: number } = {}): Promise<SafetensorsFile> {
    const file = source.name;
    const cap = opts.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
    const fail = (message: string): never => {
      throw new CheckpointError({ file, message });
    };
    if (source.size < 8) fail(`file is ${source.size} bytes, too small for a safetensors header`);
    const lenBytes = await source.read(0, 8);
    const dv = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8);
    const n = dv.getUint32(4, true) * 2 ** 32 + dv.getUint32(0, true);
    if (n > cap) fail(`header length ${n} exceeds the ${cap}-byte cap: corrupt or not a safetensors file`);
    if (n > source.size - 8) {
      fail(`header length ${n} exceeds file size - 8 (${source.size - 8}): truncated or not a safetensors file`);
    }
    if (n < 2) fail(`header length ${n} is too small for a JSON object`);
    let header: unknown;
    let text = '';
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(await source.read(8, n));
      header = JSON.parse(text);
    } catch (e) {
      fail(`header is not valid UTF-8 JSON (${(e as Error).message})`);
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
    const twice = duplicateTopLevelKeys(text);
    if (twice.length) fail(`header lists ${twice.map((k) => jsonSnippet(k)).join(', ')} more than once: corrupt file`);

    const dataStart = 8 + n;
    const dataSize = source.size - dataStart;
    const problems: CheckpointProblem[] = [];
    const entries = new Map<string, TensorInfo>();
    /** Entries past the end of the data: one problem for the file (truncation), not one per tensor. */
    const pastEnd: { name: string; end: number }[] = [];
    const ranges: { name: string; begin: number; end: number }[] = [];
    let metadata: Record<string, unknown> | undefined;
    for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
      const bad = (message: string) => problems.push({ file, tensor: name, message });
      if (name === '__metadata__') {
        if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) bad('__metadata__ is not an object');
        else metadata = raw as Record<string, unknown>;
        continue;
      }
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
        bad('entry is not an object');
        continue;
      }
      const { dtype, shape, data_offsets: offs } = raw as Record<string, unknown>;
      if (!isSafetensorsDtype(dtype)) {
        bad(`unknown dtype ${jsonSnippet(dtype)} (known: ${Object.keys(DTYPE_BYTES).join(' ')})`);
        continue;
      }
      if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
        bad(`shape ${jsonSnippet(shape)} is not a list of non-negative integers`);
        continue;
      }
      if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0)) {
        bad(`data_offsets ${jsonSnippet(offs)} is not a pair of non-negative integers`);
        continue;
      }
      const [begin, end] = offs as [number, number];
      const expected = numel(shape as number[]) * DTYPE_BYTES[dtype];
      if (end < begin) {
        bad(`data_offsets [${begin}, ${end}] end before begin`);
        continue;
      }
      if (end > dataSize) {
        pastEnd.push({ name, end });
        continue;
      }
      if (!Number.isSafeInteger(expected) || end - begin !== expected) {
        bad(`data_offsets span ${end - begin} bytes but ${dtype}${jsonSnippet(shape)} needs ${expected}`);
        continue;
      }
      entries.set(name, { dtype, shape: [...(shape as number[])], byteOffset: dataStart + begin, byteLength: end - begin });
      if (end > begin) ranges.push({ name, begin, end });
    }
    if (pastEnd.length) {
      const need = pastEnd.reduce((m, p) => Math.max(m, p.end), 0); // no spread: a header may list 100k+ tensors
      problems.unshift({
        file,
        message: `truncated: the header places tensor data up to byte ${need} of the data section, which holds ${dataSize} bytes ` +
          `(${pastEnd.length} tensor(s) past the end, first ${pastEnd[0]!.name}); download the file again`,
      });
    }
    ranges.sort((a, b) => a.begin - b.begin);
    for (let i = 1; i < ranges.length; i++) {
      const prev = ranges[i - 1]!;
      const cur = ranges[i]!;
      if (cur.begin < prev.end) {
        problems.push({
          file,
          tensor: cur.name,
          message: `data [${cur.begin}, ${cur.end}) overlaps tensor ${prev.name} [${prev.begin}, ${prev.end})`,
        });
      }
    }
    if (problems.length) throw new CheckpointError(problems, problems.length > 1 ? `${file}: invalid safetensors header` : undefined);
    return new SafetensorsFile(source, n, metadata, entries);
  }

  get name(): string {
    return this.source.name;
  }

  /** Tensor names in header order. */
  get names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  info(name: string): TensorInfo {
    const e = this.entries.get(name);
    if (!e) throw new CheckpointError({ file: this.name, tensor: name, message: 'no such tensor in this file' });
    return e;
  }

  /** The tensor's bytes exactly as stored (little-endian). */
  async readRaw(name: string): Promise<Uint8Array> {
    const e = this.info(name);
    return this.source.read(e.byteOffset, e.byteLength);
  }

  /** Any dtype widened to f32: F16/BF16 exactly, F64 rounded, integers converted (exact below 2^24). */
  async readF32(name: string): Promise<Float32Array> {
    const { dtype } = this.info(name);
    const raw = await this.readRaw(name);
    this.requireLittleEndianHost(name);
    const n = raw.byteLength / DTYPE_BYTES[dtype];
    const a = aligned(raw, DTYPE_BYTES[dtype]);
    switch (dtype) {
      case 'F32': // view the freshly read buffer when it is exactly ours; copy otherwise
        return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength
          ? new Float32Array(a.buffer, 0, n)
          : new Float32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
      case 'F16':
        return decode(a, 'f16', n);
      case 'BF16':
        return decode(a, 'bf16', n);
      case 'F64':
        return Float32Array.from(new Float64Array(a.buffer, a.byteOffset, n));
      case 'I64':
        return Float32Array.from(new BigInt64Array(a.buffer, a.byteOffset, n), (v) => Number(v));
      case 'I32':
        return Float32Array.from(new Int32Array(a.buffer, a.byteOffset, n));
      case 'I16':
        return Float32Array.from(new Int16Array(a.buffer, a.byteOffset, n));
      case 'I8':
        return Float32Array.from(new Int8Array(a.buffer, a.byteOffset, n));
      case 'U8':
      case 'BOOL':
        return Float32Array.from(a);
    }
  }

  /** I64 tensors as a BigInt64Array; other integer dtypes (I32 I16 I8 U8 BOOL) as plain numbers. */
  async readI64(name: string): Promise<BigInt64Array | number[]> {
    const { dtype } = this.info(name);
    if (!INTEGER_DTYPES.has(dtype)) {
      throw new CheckpointError({ file: this.name, tensor: name, message: `dtype ${dtype} is not an integer type` });
    }
    if (dtype !== 'I64') return Array.from(await this.readF32(name));
    const raw = await this.readRaw(name);
    this.requireLittleEndianHost(name);
    const a = aligned(raw, 8);
    return new BigInt64Array(a.buffer, a.byteOffset, a.byteLength / 8);
  }

  /** Any integer tensor as numbers; throws if an I64 value is outside the safe-integer range. */
  async readInts(name: string): Promise<number[]> {
    const v = await this.readI64(name);
    if (Array.isArray(v)) return v;
    return Array.from(v, (x, i) => {
      const n = Number(x);
      if (!Number.isSafeInteger(n)) {
        throw new CheckpointError({ file: this.name, tensor: name, message: `element ${i} = ${x} is not a safe integer` });
      }
      return n;
    });
  }

  private requireLittleEndianHost(name: string): void {
    if (!littleEndianHost) {
      throw new CheckpointError({ file: this.name, tensor: name, message: 'big-endian hosts are not supported' });
    }
  }
}

export interface TensorToEncode {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  data: Uint8Array;
}

/**
 * Serialises tensors in the given order (offsets packed, no gaps). The header is padded with spaces so the data
 * section starts 8-byte aligned, as the reference implementation does.
 */
export function encodeSafetensors(tensors: readonly TensorToEncode[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    const bad = (message: string): never => {
      throw new CheckpointError({ file: '<encodeSafetensors>', tensor: t.name, message });
    };
    if (t.name === '__metadata__' || Object.prototype.hasOwnProperty.call(header, t.name)) bad('duplicate or reserved name');
    if (!isSafetensorsDtype(t.dtype)) bad(`unknown dtype ${JSON.stringify(t.dtype)}`);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) bad(`bad shape ${JSON.stringify(t.shape)}`);
    const need = numel(t.shape) * DTYPE_BYTES[t.dtype];
    if (t.data.byteLength !== need) bad(`data is ${t.data.byteLength} bytes, ${t.dtype}${JSON.stringify(t.shape)} needs ${need}`);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + need] };
    offset += need;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + new TextEncoder().encode(json).byteLength) % 8)) % 8);
  const hb = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + hb.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(hb.byteLength), true);
  out.set(hb, 8);
  let p = 8 + hb.byteLength;
  for (const t of tensors) {
    out.set(t.data, p);
    p += t.data.byteLength;
  }
  return out;
}
