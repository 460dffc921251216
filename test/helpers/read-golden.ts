/**
 * Minimal synchronous safetensors reader for golden files in tests: u64 LE header length, JSON
 * header, then the data section. Only the dtypes the goldens use (F32, I64, U8).
 */
import { readFileSync } from 'node:fs';

export type GoldenTensor =
  | { dtype: 'F32'; shape: number[]; data: Float32Array }
  | { dtype: 'I64'; shape: number[]; data: BigInt64Array }
  | { dtype: 'U8'; shape: number[]; data: Uint8Array };

export function readGolden(path: string): Map<string, GoldenTensor> {
  const buf = readFileSync(path);
  const headerLen = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const base = 8 + headerLen;
  const out = new Map<string, GoldenTensor>();
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    // Copy so typed-array views are aligned regardless of the offset in the file.
    const bytes = new Uint8Array(buf.subarray(base + t.data_offsets[0], base + t.data_offsets[1]));
    if (t.dtype === 'F32') out.set(name, { dtype: 'F32', shape: t.shape, data: new Float32Array(bytes.buffer) });
    else if (t.dtype === 'I64') out.set(name, { dtype: 'I64', shape: t.shape, data: new BigInt64Array(bytes.buffer) });
    else if (t.dtype === 'U8') out.set(name, { dtype: 'U8', shape: t.shape, data: bytes });
    else throw new Error(`${path}: ${name} has unsupported dtype ${t.dtype}`);
  }
  return out;
}

export function goldenF32(m: Map<string, GoldenTensor>, name: string): Float32Array {
  const t = m.get(name);
  if (t?.dtype !== 'F32') throw new Error(`golden tensor ${name} missing or not F32`);
  return t.data;
}
