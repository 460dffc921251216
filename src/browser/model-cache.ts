// The app's model cache in the Origin Private File System (docs/WEB-APP.md, "Model cache"): one folder per model
// URL under `vilavt-models/`, named by a hash of the URL, holding the model's files under their own names plus
// `vilavt-cache.json` (the URL, per file its size — null when the folder has no such file —, the server's SHA-256
// when it gave one, and whether the file is complete). Partial files stay on disk so a later load resumes them.
import type { CachedModel } from '../app/protocol.js';

export const CACHE_ROOT = 'vilavt-models';
export const META_FILE = 'vilavt-cache.json';

export interface CachedFileMeta {
  /** Bytes of the whole file; null when the model folder has no such file (a 404, remembered). */
  size: number | null;
  /** Hex SHA-256 the server gave (ETag / X-Linked-ETag of an LFS file), checked when the download completes. */
  sha256: string | null;
  /** True once every byte is stored (and the hash, when known, matched). */
  done: boolean;
}

export interface CacheMeta {
  version: 1;
  url: string;
  files: Record<string, CachedFileMeta>;
  /** True once a load from the URL completed: every file the loader asked for is stored. */
  complete: boolean;
  lastUsed: string | null;
}

/** The subset of FileSystemSyncAccessHandle the cache uses (dedicated workers only; not in TypeScript's DOM lib). */
export interface SyncAccessHandle {
  read(buffer: Uint8Array, options?: { at: number }): number;
  write(buffer: Uint8Array, options?: { at: number }): number;
  truncate(size: number): void;
  getSize(): number;
  flush(): void;
  close(): void;
}

async function urlKey(url: string): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(url)));
  return Array.from(d.subarray(0, 12), (b) => b.toString(16).padStart(2, '0')).join('');
}

export class ModelCache {
  private constructor(private readonly root: FileSystemDirectoryHandle) {}

  static async open(): Promise<ModelCache> {
    if (!navigator.storage?.getDirectory) throw new Error('this browser has no Origin Private File System (navigator.storage.getDirectory)');
    const opfs = await navigator.storage.getDirectory();
    return new ModelCache(await opfs.getDirectoryHandle(CACHE_ROOT, { create: true }));
  }

  /** Every cached model (complete or partial), largest first. */
  async list(): Promise<CachedModel[]> {
    const out: CachedModel[] = [];
    for await (const [key, handle] of (this.root as unknown as AsyncIterable<[string, FileSystemHandle]>)) {
      if (handle.kind !== 'directory') continue;
      const entry = await CacheEntry.read(key, handle as FileSystemDirectoryHandle);
      if (!entry) continue;
      out.push({ key, url: entry.meta.url, bytes: await entry.storedBytes(), complete: entry.meta.complete, lastUsed: entry.meta.lastUsed });
    }
    return out.sort((a, b) => b.bytes - a.bytes);
  }

  async delete(key: string): Promise<void> {
    if (!/^[0-9a-f]{24}$/.test(key)) throw new Error(`not a cache key: ${JSON.stringify(key)}`);
    await this.root.removeEntry(key, { recursive: true });
  }

  /** The entry of a model URL, created (empty) when absent. */
  async forUrl(url: string): Promise<CacheEntry> {
    const key = await urlKey(url);
    const dir = await this.root.getDirectoryHandle(key, { create: true });
    const found = await CacheEntry.read(key, dir);
    if (found && found.meta.url === url) return found;
    const e = new CacheEntry(key, dir, { version: 1, url, files: {}, complete: false, lastUsed: null });
    await e.saveMeta();
    return e;
  }

  /** An existing entry by key, or null. */
  async byKey(key: string): Promise<CacheEntry | null> {
    try {
      return await CacheEntry.read(key, await this.root.getDirectoryHandle(key));
    } catch {
      return null;
    }
  }
}

export class CacheEntry {
  constructor(readonly key: string, private readonly dir: FileSystemDirectoryHandle, readonly meta: CacheMeta) {}

  static async read(key: string, dir: FileSystemDirectoryHandle): Promise<CacheEntry | null> {
    try {
      const f = await (await dir.getFileHandle(META_FILE)).getFile();
      const meta = JSON.parse(await f.text()) as CacheMeta;
      if (meta.version !== 1 || typeof meta.url !== 'string' || typeof meta.files !== 'object') return null;
      return new CacheEntry(key, dir, meta);
    } catch {
      return null;
    }
  }

  async saveMeta(): Promise<void> {
    // createWritable (not a sync handle): the meta file is small and also written outside loads.
    const w = await (await this.dir.getFileHandle(META_FILE, { create: true })).createWritable();
    await w.write(JSON.stringify(this.meta));
    await w.close();
  }

  /** A stored file (complete or partial), or null. */
  async file(name: string): Promise<File | null> {
    try {
      return await (await this.dir.getFileHandle(name)).getFile();
    } catch {
      return null;
    }
  }

  /** Exclusive read/write access to a stored file (created when absent). */
  async openSync(name: string): Promise<SyncAccessHandle> {
    const h = await this.dir.getFileHandle(name, { create: true });
    return (h as unknown as { createSyncAccessHandle(): Promise<SyncAccessHandle> }).createSyncAccessHandle();
  }

  async storedBytes(): Promise<number> {
    let n = 0;
    for await (const [name, handle] of (this.dir as unknown as AsyncIterable<[string, FileSystemHandle]>)) {
      if (handle.kind === 'file' && name !== META_FILE) n += (await (handle as FileSystemFileHandle).getFile()).size;
    }
    return n;
  }
}
