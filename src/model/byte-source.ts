/**
 * Random-access byte sources for checkpoint files. Platform-neutral: a Blob (browser File, Node Blob) or an
 * HTTP URL read with Range requests. The Node file source lives in src/platform/node-file.ts.
 */
import { CheckpointError } from './errors.js';

/** A file that can be read by byte range. `read` must return exactly `length` bytes or throw. */
export interface ByteSource {
  readonly name: string;
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** Checks a requested range against the source size; shared by every implementation. */
export function checkRange(src: { name: string; size: number }, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new CheckpointError({ file: src.name, message: `invalid read range offset=${offset} length=${length}` });
  }
  if (offset + length > src.size) {
    throw new CheckpointError({
      file: src.name,
      message: `read of bytes [${offset}, ${offset + length}) past end of file (${src.size} bytes): file truncated?`,
    });
  }
}

/** A source over bytes already in memory (tests, generated checkpoints). */
export function bytesSource(bytes: Uint8Array, name: string): ByteSource {
  const src: ByteSource = {
    name,
    size: bytes.byteLength,
    async read(offset, length) {
      checkRange(src, offset, length);
      return bytes.slice(offset, offset + length);
    },
  };
  return src;
}

/** A source over a Blob (browser `File` from an <input> or drag-and-drop). */
export function blobSource(blob: Blob, name: string): ByteSource {
  return {
    name,
    size: blob.size,
    async read(offset, length) {
      checkRange({ name, size: blob.size }, offset, length);
      const out = new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
      if (out.byteLength !== length) {
        throw new CheckpointError({ file: name, message: `short read: got ${out.byteLength} of ${length} bytes at ${offset}` });
      }
      return out;
    },
  };
}

type FetchLike = (input: string, init?: { method?: string; headers?: Record<string, string> }) => Promise<Response>;

/** Size from `Content-Range: bytes a-b/SIZE`, or undefined. */
function sizeFromContentRange(h: string | null): number | undefined {
  const m = h ? /\/(\d+)\s*$/.exec(h) : null;
  return m ? Number(m[1]) : undefined;
}

/**
 * A source over an HTTP(S) URL. The size comes from HEAD's Content-Length, else from the Content-Range of a
 * one-byte range request. Every read is a `Range: bytes=a-b` GET; a server that ignores Range (200 with the whole
 * body) is accepted only when the whole file was asked for, so a large file is never downloaded by accident.
 */
export async function httpRangeSource(url: string, fetchImpl: FetchLike = (u, i) => fetch(u, i)): Promise<ByteSource> {
  const name = decodeURIComponent(new URL(url, 'http://x/').pathname.split('/').pop() || url);
  let size: number | undefined;
  try {
    const head = await fetchImpl(url, { method: 'HEAD' });
    const len = head.headers.get('content-length');
    // Content-Length of a compressed transfer is not the file size; trust it only for identity encoding.
    if (head.ok && len !== null && /^\d+$/.test(len) && !head.headers.get('content-encoding')) size = Number(len);
  } catch {
    // Some servers reject HEAD; fall back to a range request below.
  }
  if (size === undefined) {
    const r = await fetchImpl(url, { headers: { Range: 'bytes=0-0' } });
    if (r.status === 206) size = sizeFromContentRange(r.headers.get('content-range'));
    await r.body?.cancel();
    if (size === undefined) {
      throw new CheckpointError({ file: name, message: `cannot determine size of ${url} (HTTP ${r.status}, no Content-Range)` });
    }
  }
  const total = size;
  return {
    name,
    size: total,
    async read(offset, length) {
      checkRange({ name, size: total }, offset, length);
      if (length === 0) return new Uint8Array(0);
      const r = await fetchImpl(url, { headers: { Range: `bytes=${offset}-${offset + length - 1}` } });
      const whole = r.status === 200 && offset === 0 && length === total;
      if (r.status !== 206 && !whole) {
        await r.body?.cancel();
        throw new CheckpointError({
          file: name,
          message: `range request bytes=${offset}-${offset + length - 1} answered HTTP ${r.status} (server must support Range)`,
        });
      }
      const out = new Uint8Array(await r.arrayBuffer());
      if (out.byteLength !== length) {
        throw new CheckpointError({ file: name, message: `short read: got ${out.byteLength} of ${length} bytes at ${offset}` });
      }
      return out;
    },
  };
}
