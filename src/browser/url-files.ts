// A model folder at a URL (Hugging Face style: fixed file names, no listing), cached in the OPFS as it streams.
// Small files (configs, tokenizers) are fetched whole and stored; a 404 is remembered as "no such file". Weight
// files are downloaded one after another, each resuming from what an interrupted earlier download stored
// (`Range: bytes=N-`), written through a sync access handle; the loader reads them from that handle while they
// stream, waiting only for bytes not yet stored. Each file is checked by size and, when the server gives one, by
// its SHA-256 (the ETag / X-Linked-ETag of a Hugging Face LFS file), hashed as the bytes arrive.
import type { ByteSource } from '../model/byte-source.js';
import { bytesSource, checkRange } from '../model/byte-source.js';
import { CheckpointError } from '../model/errors.js';
import { Sha256 } from '../util/sha256.js';
import { AppError } from '../app/errors.js';
import type { CacheEntry, SyncAccessHandle } from './model-cache.js';
import { weightFileNames, type ModelFiles } from './model-files.js';

const isWeightFile = (name: string) => name.endsWith('.safetensors');

/** The SHA-256 a server states for a file: X-Linked-ETag (Hugging Face LFS) or a 64-hex ETag. */
function statedSha256(h: Headers): string | null {
  for (const v of [h.get('x-linked-etag'), h.get('etag')]) {
    const m = v ? /^(?:W\/)?"?([0-9a-f]{64})"?$/i.exec(v.trim()) : null;
    if (m) return m[1]!.toLowerCase();
  }
  return null;
}

/** One weight file's download into its cache file, readable while it streams. */
class Download {
  /** Bytes [0, stored) are in the cache file. */
  stored = 0;
  private failure: unknown = null;
  private finished = false;
  private readonly waiters = new Set<() => void>();

  constructor(readonly name: string, readonly size: number, private readonly sha256: string | null, private readonly handle: SyncAccessHandle,
    private readonly fetchFrom: (start: number) => Promise<Response>, private readonly onBytes: (n: number) => void) {}

  /** Resume (or start) and run to the end; throws on a network, size or hash failure. */
  async run(): Promise<void> {
    try {
      await this.transfer();
      this.finished = true;
    } catch (e) {
      this.failure = e;
      throw e;
    } finally {
      this.wake();
    }
  }

  private async transfer(): Promise<void> {
    const h = this.handle;
    let at = h.getSize();
    if (at > this.size) { h.truncate(0); at = 0; }
    let hash = this.sha256 ? new Sha256() : null;
    if (hash && at > 0) { // resumed: hash what an earlier visit stored
      const buf = new Uint8Array(Math.min(at, 8 << 20));
      for (let o = 0; o < at; o += buf.length) {
        const n = h.read(buf.subarray(0, Math.min(buf.length, at - o)), { at: o });
        hash.update(buf.subarray(0, n));
      }
    }
    this.advance(at, 0);
    if (at < this.size) {
      const r = await this.fetchFrom(at);
      if (r.status === 200 && at > 0) { // the server ignored the Range header: start over
        h.truncate(0);
        at = 0;
        hash = this.sha256 ? new Sha256() : null;
        this.advance(0, 0);
      } else if (r.status !== 206 && r.status !== 200) {
        await r.body?.cancel();
        throw new AppError('network', `${this.name}: HTTP ${r.status} ${r.statusText}`.trim());
      }
      const reader = r.body!.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (at + value.byteLength > this.size) throw new AppError('network', `${this.name}: the server sent more than the ${this.size} bytes it announced`);
        h.write(value, { at });
        hash?.update(value);
        at += value.byteLength;
        this.advance(at, value.byteLength);
      }
      h.flush();
      if (at !== this.size) throw new AppError('network', `${this.name}: download ended at ${at} of ${this.size} bytes (the next load resumes it)`);
    }
    if (hash) {
      const got = hash.hex();
      if (got !== this.sha256) {
        h.truncate(0);
        h.flush();
        throw new AppError('network', `${this.name}: SHA-256 ${got} does not match the server's ${this.sha256}; the cached copy was discarded`);
      }
    }
  }

  private advance(to: number, newBytes: number): void {
    this.stored = to;
    if (newBytes) this.onBytes(newBytes);
    this.wake();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Bytes [offset, offset + length), once stored. */
  async read(offset: number, length: number, signal: AbortSignal): Promise<Uint8Array> {
    checkRange({ name: this.name, size: this.size }, offset, length);
    while (this.stored < offset + length) {
      if (this.failure) throw this.failure;
      if (signal.aborted) throw signal.reason;
      if (this.finished) break;
      await new Promise<void>((ok) => {
        const w = () => { this.waiters.delete(w); signal.removeEventListener('abort', w); ok(); };
        this.waiters.add(w);
        signal.addEventListener('abort', w);
      });
    }
    const out = new Uint8Array(length);
    const n = this.handle.read(out, { at: offset });
    if (n !== length) throw new CheckpointError({ file: this.name, message: `short read from the cache: ${n} of ${length} bytes at ${offset}` });
    return out;
  }

  close(): void {
    this.handle.close();
  }
}

export class UrlFiles implements ModelFiles {
  readonly origin = 'network' as const;
  readonly label: string;
  readonly cacheKey: string;
  /** Weight bytes fetched over the network by this load. */
  downloaded = 0;
  private readonly base: URL;
  private readonly downloads = new Map<string, Download>();
  private queue: Promise<void> = Promise.resolve();
  private failure: unknown = null;
  private readonly sizes = new Map<string, { size: number; sha256: string | null } | null>();

  constructor(private readonly entry: CacheEntry, private readonly signal: AbortSignal) {
    this.base = new URL(entry.meta.url);
    this.label = entry.meta.url;
    this.cacheKey = entry.key;
  }

  private url(name: string): string {
    return new URL(encodeURIComponent(name), this.base).href;
  }

  get bytesDone(): number {
    let n = 0;
    for (const d of this.downloads.values()) n += d.stored;
    return n;
  }

  readText = async (name: string): Promise<string | null> => {
    const b = await this.small(name);
    return b === null ? null : new TextDecoder().decode(b);
  };

  resolve = async (name: string): Promise<ByteSource | null> => {
    if (!isWeightFile(name)) {
      const b = await this.small(name);
      return b === null ? null : bytesSource(b, name);
    }
    const d = await this.download(name);
    return d && { name, size: d.size, read: (o, l) => d.read(o, l, this.signal) };
  };

  async weightFiles(): Promise<{ name: string; size: number }[]> {
    const out = [];
    for (const name of await weightFileNames(this.readText)) {
      const s = await this.head(name);
      if (s) out.push({ name, size: s.size });
    }
    return out;
  }

  /** Bytes of the weight files already stored (complete or partial) — what a load will not download again. */
  async storedWeightBytes(): Promise<number> {
    let n = 0;
    for (const name of await weightFileNames(this.readText)) n += Math.min((await this.entry.file(name))?.size ?? 0, (await this.head(name))?.size ?? 0);
    return n;
  }

  async finish(): Promise<void> {
    await this.queue;
    if (this.failure) throw this.failure;
    this.entry.meta.complete = true;
    this.entry.meta.lastUsed = new Date().toISOString();
    await this.entry.saveMeta();
  }

  dispose(): void {
    for (const d of this.downloads.values()) d.close();
    this.downloads.clear();
  }

  private async fetchOk(name: string, init: RequestInit = {}): Promise<Response | null> {
    let r: Response;
    try {
      r = await fetch(this.url(name), { ...init, signal: this.signal, cache: 'no-store' });
    } catch (e) {
      if (this.signal.aborted) throw this.signal.reason;
      throw new AppError('network', `${this.url(name)}: ${(e as Error).message}`);
    }
    if (r.status === 404) {
      await r.body?.cancel();
      return null;
    }
    if (!r.ok) {
      await r.body?.cancel();
      throw new AppError('network', `${this.url(name)}: HTTP ${r.status} ${r.statusText}`.trim());
    }
    return r;
  }

  /** A small file, whole: from the cache, else fetched and stored. null: the folder has no such file. */
  private async small(name: string): Promise<Uint8Array | null> {
    const m = this.entry.meta.files[name];
    if (m?.size === null) return null;
    if (m?.done) {
      const f = await this.entry.file(name);
      if (f && f.size === m.size) return new Uint8Array(await f.arrayBuffer());
    }
    const r = await this.fetchOk(name);
    if (!r) {
      this.entry.meta.files[name] = { size: null, sha256: null, done: true };
      await this.entry.saveMeta();
      return null;
    }
    const bytes = new Uint8Array(await r.arrayBuffer());
    const h = await this.entry.openSync(name);
    try {
      h.truncate(0);
      h.write(bytes, { at: 0 });
      h.flush();
    } finally {
      h.close();
    }
    this.entry.meta.files[name] = { size: bytes.byteLength, sha256: null, done: true };
    await this.entry.saveMeta();
    return bytes;
  }

  /** Size and stated hash of a weight file (HEAD, once), or null when absent. */
  private async head(name: string): Promise<{ size: number; sha256: string | null } | null> {
    if (this.sizes.has(name)) return this.sizes.get(name)!;
    const m = this.entry.meta.files[name];
    let info: { size: number; sha256: string | null } | null;
    if (m?.done) info = m.size === null ? null : { size: m.size, sha256: m.sha256 };
    else {
      const r = await this.fetchOk(name, { method: 'HEAD' });
      const len = r?.headers.get('content-length');
      if (r && (len === null || len === undefined || !/^\d+$/.test(len) || r.headers.get('content-encoding'))) {
        throw new AppError('network', `${this.url(name)}: the server gives no plain Content-Length for it (needed for the size check and resuming)`);
      }
      info = r ? { size: Number(len), sha256: statedSha256(r.headers) } : null;
      // A stored part from another version of the file (different size or hash) is useless.
      if (info && m && (m.size !== info.size || m.sha256 !== info.sha256)) {
        const h = await this.entry.openSync(name);
        h.truncate(0);
        h.close();
      }
      this.entry.meta.files[name] = info ? { size: info.size, sha256: info.sha256, done: false } : { size: null, sha256: null, done: true };
      await this.entry.saveMeta();
    }
    this.sizes.set(name, info);
    return info;
  }

  private async download(name: string): Promise<Download | null> {
    const existing = this.downloads.get(name);
    if (existing) return existing;
    const info = await this.head(name);
    if (!info) return null;
    // A file an earlier load completed (and checked) is not hashed again.
    const checked = this.entry.meta.files[name]?.done === true;
    const d = new Download(name, info.size, checked ? null : info.sha256, await this.entry.openSync(name),
      (start) => this.fetchOk(name, start > 0 ? { headers: { Range: `bytes=${start}-` } } : {}).then((r) => {
        if (!r) throw new AppError('network', `${this.url(name)}: disappeared (HTTP 404) during the download`);
        return r;
      }),
      (n) => { this.downloaded += n; });
    this.downloads.set(name, d);
    // One file at a time, in the order the loader asks for them; a completed file is recorded at once.
    // Failures reach the loader through read(); finish() rethrows the first.
    this.queue = this.queue.then(async () => {
      await d.run();
      this.entry.meta.files[name] = { size: info.size, sha256: info.sha256, done: true };
      await this.entry.saveMeta();
    }).catch((e: unknown) => { this.failure ??= e; });
    return d;
  }
}
