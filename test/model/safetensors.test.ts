import { describe, expect, it } from 'vitest';
import { blobSource, bytesSource, httpRangeSource, type ByteSource } from '../../src/model/byte-source.js';
import { CheckpointError } from '../../src/model/errors.js';
import { numberToBf16Bits, numberToF16Bits } from '../../src/runtime/dtype.js';
import { encodeSafetensors, SafetensorsFile, type SafetensorsDtype } from '../../src/model/safetensors.js';

const u8 = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Builds a file from a raw header object and a data section (for corrupt-header cases). */
function rawFile(header: unknown, data: Uint8Array, headerLen?: number): Uint8Array {
  const h =
    header instanceof Uint8Array ? header : new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + h.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen ?? h.byteLength), true);
  out.set(h, 8);
  out.set(data, 8 + h.byteLength);
  return out;
}

async function openErr(bytes: Uint8Array, name = 'bad.safetensors', opts = {}): Promise<CheckpointError> {
  try {
    await SafetensorsFile.open(bytesSource(bytes, name), opts);
  } catch (e) {
    expect(e).toBeInstanceOf(CheckpointError);
    return e as CheckpointError;
  }
  throw new Error('expected a CheckpointError');
}

describe('safetensors round trip', () => {
  // Hand-picked bit patterns with known exact values.
  const f16 = new Uint16Array([0x3c00, 0xc000, 0x0001, 0x7bff, 0x7c00, 0x8000]); // 1, -2, 2^-24, 65504, inf, -0
  const bf16 = new Uint16Array([0x3f80, 0x4049, 0xc2f7, 0x0001, 0xff80, 0x7f7f]); // 1, 3.140625, -123.5, 2^-133, -inf, max
  const cases: { name: string; dtype: SafetensorsDtype; shape: number[]; data: Uint8Array; f32: number[] }[] = [
    { name: 'f64', dtype: 'F64', shape: [3], data: u8(new Float64Array([0.1, -2.5, 1e300])), f32: [Math.fround(0.1), -2.5, Infinity] },
    { name: 'f32', dtype: 'F32', shape: [2, 2], data: u8(new Float32Array([1.5, -0.25, 3e-39, 7])), f32: [1.5, -0.25, Math.fround(3e-39), 7] },
    { name: 'f16', dtype: 'F16', shape: [2, 3], data: u8(f16), f32: [1, -2, 2 ** -24, 65504, Infinity, -0] },
    { name: 'bf16', dtype: 'BF16', shape: [6], data: u8(bf16), f32: [1, 3.140625, -123.5, 2 ** -133, -Infinity, 3.3895313892515355e38] },
    { name: 'i64', dtype: 'I64', shape: [3], data: u8(new BigInt64Array([-5n, 2n ** 40n, 0n])), f32: [-5, 2 ** 40, 0] },
    { name: 'i32', dtype: 'I32', shape: [2], data: u8(new Int32Array([-7, 123456])), f32: [-7, 123456] },
    { name: 'i16', dtype: 'I16', shape: [2], data: u8(new Int16Array([-32768, 5])), f32: [-32768, 5] },
    { name: 'i8', dtype: 'I8', shape: [3], data: u8(new Int8Array([-128, 0, 127])), f32: [-128, 0, 127] },
    { name: 'u8', dtype: 'U8', shape: [1, 3], data: new Uint8Array([0, 200, 255]), f32: [0, 200, 255] },
    { name: 'bool', dtype: 'BOOL', shape: [2], data: new Uint8Array([1, 0]), f32: [1, 0] },
    { name: 'empty', dtype: 'F32', shape: [0, 4], data: new Uint8Array(0), f32: [] },
  ];

  it('reads back every dtype (raw bytes, shape, f32 widening, integers)', async () => {
    const bytes = encodeSafetensors(cases, { format: 'pt' });
    const f = await SafetensorsFile.open(bytesSource(bytes, 'all.safetensors'));
    expect(f.names).toEqual(cases.map((c) => c.name));
    expect(f.metadata).toEqual({ format: 'pt' });
    expect((8 + f.headerLength) % 8).toBe(0); // data section aligned like the reference writer
    for (const c of cases) {
      const info = f.info(c.name);
      expect(info.dtype).toBe(c.dtype);
      expect(info.shape).toEqual(c.shape);
      expect(await f.readRaw(c.name)).toEqual(c.data);
      expect(Array.from(await f.readF32(c.name))).toEqual(c.f32);
    }
    expect(await f.readI64('i64')).toEqual(new BigInt64Array([-5n, 2n ** 40n, 0n]));
    expect(await f.readI64('i8')).toEqual([-128, 0, 127]);
    expect(await f.readInts('i64')).toEqual([-5, 2 ** 40, 0]);
    await expect(f.readI64('f32')).rejects.toThrow(/all\.safetensors: f32: dtype F32 is not an integer type/);
    expect(() => f.info('nope')).toThrow(/all\.safetensors: nope: no such tensor/);
  });

  it('reads only the byte ranges it needs', async () => {
    const big = new Float32Array(100_000).fill(0.5);
    const bytes = encodeSafetensors([
      { name: 'small', dtype: 'F32', shape: [2], data: u8(new Float32Array([1, 2])) },
      { name: 'big', dtype: 'F32', shape: [100_000], data: u8(big) },
    ]);
    let read = 0;
    const inner = bytesSource(bytes, 'counted.safetensors');
    const counted: ByteSource = { name: inner.name, size: inner.size, read: (o, l) => ((read += l), inner.read(o, l)) };
    const f = await SafetensorsFile.open(counted);
    expect(Array.from(await f.readF32('small'))).toEqual([1, 2]);
    expect(read).toBe(8 + f.headerLength + 8);
    expect(read).toBeLessThan(bytes.byteLength / 100);
  });

  it('narrowing conversions round to nearest even', () => {
    // bf16 keeps 7 mantissa bits: 1 + 2^-8 is a tie between 1 and 1 + 2^-7 -> even (1.0).
    expect(numberToBf16Bits(1 + 2 ** -8)).toBe(0x3f80);
    expect(numberToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82); // tie between 0x3f81 and 0x3f82 -> even
    expect(numberToBf16Bits(1 + 2 ** -8 + 2 ** -20)).toBe(0x3f81); // above the tie
    expect(numberToBf16Bits(NaN) & 0x7fc0).toBe(0x7fc0);
    expect(numberToF16Bits(65520)).toBe(0x7c00); // tie between 65504 and 65536 (odd mantissa) -> infinity
    expect(numberToF16Bits(65519)).toBe(0x7bff);
    expect(numberToF16Bits(2 ** -25)).toBe(0x0000); // tie between 0 and the smallest subnormal -> 0
    expect(numberToF16Bits(1.5 * 2 ** -25)).toBe(0x0001);
    expect(numberToF16Bits(-(2 ** -14))).toBe(0x8400); // smallest normal
    expect(numberToF16Bits(1 / 3)).toBe(0x3555);
  });
});

describe('safetensors header validation (every error names the file, and the tensor where there is one)', () => {
  const data = u8(new Float32Array([1, 2, 3, 4]));

  it('rejects a header length over the cap', async () => {
    const bytes = rawFile({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, data, 200 * 1024 * 1024);
    const e = await openErr(bytes, 'huge.safetensors');
    expect(e.message).toMatch(/^huge\.safetensors: header length 209715200 exceeds the 104857600-byte cap/);
    const e2 = await openErr(encodeSafetensors([{ name: 'a', dtype: 'F32', shape: [4], data }]), 'x.safetensors', { maxHeaderBytes: 16 });
    expect(e2.message).toMatch(/x\.safetensors: header length \d+ exceeds the 16-byte cap/);
  });

  it('rejects a header longer than the file and files shorter than 8 bytes', async () => {
    expect((await openErr(rawFile('{}', new Uint8Array(0), 50), 'short.safetensors')).message).toMatch(
      /short\.safetensors: header length 50 exceeds file size - 8 \(2\)/,
    );
    expect((await openErr(new Uint8Array(5), 'tiny.safetensors')).message).toMatch(/tiny\.safetensors: file is 5 bytes/);
  });

  it('rejects corrupt JSON and non-object headers', async () => {
    expect((await openErr(rawFile('{"a": {"dtype": "F3', data), 'c.safetensors')).message).toMatch(/c\.safetensors: header is not valid UTF-8 JSON/);
    expect((await openErr(rawFile('[1,2]', data), 'c.safetensors')).message).toMatch(/c\.safetensors: header is not a JSON object/);
    expect((await openErr(rawFile(new Uint8Array([0x7b, 0xff, 0x7d]), data))).message).toMatch(/not valid/);
  });

  it('rejects a truncated file in one line, naming the first tensor that runs past the end', async () => {
    const tensors = Array.from({ length: 40 }, (_, i) => ({ name: `t${i}`, dtype: 'F32' as const, shape: [4], data }));
    const full = encodeSafetensors(tensors);
    // Cut inside t1: 39 tensors run past the end, reported as one problem of the file (issue 11: not one line each).
    const e = await openErr(full.subarray(0, full.byteLength - 38 * 16 - 3), 'model-00002-of-00002.safetensors');
    expect(e.problems).toHaveLength(1);
    expect(e.message).toBe('model-00002-of-00002.safetensors: truncated: the header places tensor data up to byte 640 of the data ' +
      'section, which holds 29 bytes (39 tensor(s) past the end, first t1); download the file again');
  });

  it('rejects a header that lists a tensor twice', async () => {
    const header = '{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "v": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]},' +
      ' "w": {"dtype": "F32", "shape": [1], "data_offsets": [12, 16]}}';
    expect((await openErr(rawFile(header, data), 'dup.safetensors')).message).toBe(
      'dup.safetensors: header lists "w" more than once: corrupt file');
    // Equal names nested deeper (inside __metadata__) are not tensors.
    const nested = '{"__metadata__": {"w": "1", "x": {"w": 2}}, "w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}';
    expect((await SafetensorsFile.open(bytesSource(rawFile(nested, data), 'ok.safetensors'))).names).toEqual(['w']);
  });

  it('rejects overlapping, out-of-range and mis-sized offsets and unknown dtypes, all in one error', async () => {
    const header = {
      __metadata__: { format: 'pt' },
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      overlap: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
      beyond: { dtype: 'F32', shape: [1], data_offsets: [16, 20] },
      wrongsize: { dtype: 'F16', shape: [3], data_offsets: [12, 16] },
      fp8: { dtype: 'F8_E4M3', shape: [4], data_offsets: [12, 16] },
      negshape: { dtype: 'U8', shape: [-1], data_offsets: [0, 0] },
      backwards: { dtype: 'U8', shape: [0], data_offsets: [8, 4] },
    };
    const e = await openErr(rawFile(header, data), 'multi.safetensors');
    const byTensor = Object.fromEntries(e.problems.map((p) => [p.tensor, p.message]));
    expect(e.problems.every((p) => p.file === 'multi.safetensors')).toBe(true);
    expect(byTensor.overlap).toMatch(/overlaps tensor a \[0, 8\)/);
    expect(e.problems[0]!.message).toMatch(/^truncated: .* data section, which holds 16 bytes \(1 tensor\(s\) past the end, first beyond\)/);
    expect(byTensor.wrongsize).toMatch(/span 4 bytes but F16\[3\] needs 6/);
    expect(byTensor.fp8).toMatch(/unknown dtype "F8_E4M3"/);
    expect(byTensor.negshape).toMatch(/shape \[-1\] is not a list of non-negative integers/);
    expect(byTensor.backwards).toMatch(/end before begin/);
    expect(e.problems).toHaveLength(6);
    expect(e.message).toMatch(/^multi\.safetensors: invalid safetensors header \(6\):\n  - multi\.safetensors: truncated: /);
  });

  it('encodeSafetensors rejects data of the wrong size, naming the tensor', () => {
    expect(() => encodeSafetensors([{ name: 'w', dtype: 'BF16', shape: [3], data: new Uint8Array(4) }])).toThrow(
      /w: data is 4 bytes, BF16\[3\] needs 6/,
    );
  });
});

describe('byte sources', () => {
  const bytes = encodeSafetensors([{ name: 'x', dtype: 'F32', shape: [3], data: u8(new Float32Array([1, 2, 3])) }]);

  /** A minimal HTTP server in a function: honours Range unless told not to. */
  function fakeFetch(honourRange: boolean, headOk = true) {
    const calls: string[] = [];
    const impl = async (_url: string, init?: { method?: string; headers?: Record<string, string> }) => {
      const range = init?.headers?.Range;
      calls.push(init?.method === 'HEAD' ? 'HEAD' : (range ?? 'GET'));
      if (init?.method === 'HEAD') {
        return headOk ? new Response(null, { status: 200, headers: { 'content-length': String(bytes.byteLength) } }) : new Response(null, { status: 405 });
      }
      const m = range && honourRange ? /bytes=(\d+)-(\d+)/.exec(range) : null;
      if (!m) return new Response(bytes.slice(), { status: 200 });
      const a = Number(m[1]);
      const b = Math.min(Number(m[2]), bytes.byteLength - 1);
      return new Response(bytes.slice(a, b + 1), { status: 206, headers: { 'content-range': `bytes ${a}-${b}/${bytes.byteLength}` } });
    };
    return { impl, calls };
  }

  it('httpRangeSource reads ranges and gets the size from HEAD or Content-Range', async () => {
    const { impl, calls } = fakeFetch(true);
    const src = await httpRangeSource('https://host/repo/resolve/main/model.safetensors?download=1', impl);
    expect(src.name).toBe('model.safetensors');
    expect(src.size).toBe(bytes.byteLength);
    const f = await SafetensorsFile.open(src);
    expect(Array.from(await f.readF32('x'))).toEqual([1, 2, 3]);
    expect(calls[0]).toBe('HEAD');
    expect(calls.slice(1).every((c) => c.startsWith('bytes='))).toBe(true);

    const noHead = fakeFetch(true, false);
    const src2 = await httpRangeSource('https://host/m.safetensors', noHead.impl);
    expect(src2.size).toBe(bytes.byteLength);
    expect(noHead.calls).toEqual(['HEAD', 'bytes=0-0']);
  });

  it('httpRangeSource refuses a server that ignores Range for a partial read', async () => {
    const src = await httpRangeSource('https://host/m.safetensors', fakeFetch(false).impl);
    await expect(src.read(8, 4)).rejects.toThrow(/m\.safetensors: range request bytes=8-11 answered HTTP 200/);
    expect(await src.read(0, bytes.byteLength)).toEqual(bytes); // the whole file is fine
  });

  it('blobSource and bounds checks', async () => {
    const src = blobSource(new Blob([bytes.slice().buffer]), 'blob.safetensors');
    const f = await SafetensorsFile.open(src);
    expect(Array.from(await f.readF32('x'))).toEqual([1, 2, 3]);
    await expect(src.read(bytes.byteLength - 2, 4)).rejects.toThrow(/blob\.safetensors: read of bytes .* past end of file/);
  });
});
