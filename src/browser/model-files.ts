// The files of a model folder as the engine worker reads them, whatever their origin: a picked folder, the OPFS
// cache, or a URL (url-files.ts, which caches as it streams). Checkpoint and tokenizer loaders see only `resolve`
// and `readText`; the worker also needs the weight files' sizes up front (quota, progress) and a way to finish.
import { INDEX_FILE, SINGLE_FILE, type FileResolver } from '../model/checkpoint.js';
import { blobSource, type ByteSource } from '../model/byte-source.js';
import type { ReadTextFile } from '../text/tokenizer-files.js';
import { AppError } from '../app/errors.js';
import type { CacheEntry } from './model-cache.js';

export interface ModelFiles {
  origin: 'network' | 'cache' | 'folder';
  label: string;
  /** The OPFS cache entry the files come from or go to (null for a picked folder). */
  cacheKey: string | null;
  resolve: FileResolver;
  readText: ReadTextFile;
  /** Weight files (safetensors) with their sizes, before any of them is read. */
  weightFiles(): Promise<{ name: string; size: number }[]>;
  /** Weight bytes already in hand (read from disk, or downloaded and stored). */
  readonly bytesDone: number;
  /** After the model is loaded: complete pending downloads, check them, record the cache entry as complete. */
  finish(): Promise<void>;
  /** Release file handles (also after a failure). */
  dispose(): void;
}

/** The weight files a folder's index names (sorted, as openCheckpoint opens them), else model.safetensors. */
export async function weightFileNames(readText: ReadTextFile): Promise<string[]> {
  const index = await readText(INDEX_FILE);
  if (index === null) return [SINGLE_FILE];
  let wm: unknown;
  try {
    wm = (JSON.parse(index) as { weight_map?: unknown }).weight_map;
  } catch (e) {
    throw new AppError('bad_input', `${INDEX_FILE}: invalid JSON: ${(e as Error).message}`);
  }
  if (wm === null || typeof wm !== 'object') throw new AppError('bad_input', `${INDEX_FILE}: no weight_map object`);
  return [...new Set(Object.values(wm as Record<string, unknown>).filter((v): v is string => typeof v === 'string'))].sort();
}

const isWeightFile = (name: string) => name.endsWith('.safetensors');

/** A source that counts the bytes read through it. */
function counted(src: ByteSource, add: (n: number) => void): ByteSource {
  return { name: src.name, size: src.size, read: async (o, l) => { const b = await src.read(o, l); add(b.byteLength); return b; } };
}

/** Files of a picked folder (`webkitdirectory`): only those directly inside it. */
export function folderFiles(list: readonly File[]): ModelFiles {
  if (list.length === 0) throw new AppError('bad_input', 'the picked folder is empty');
  const depth = (f: File) => (f.webkitRelativePath || f.name).split('/').length;
  const top = Math.min(...list.map(depth));
  const files = new Map(list.filter((f) => depth(f) === top).map((f) => [f.name, f]));
  const label = list[0]!.webkitRelativePath.split('/')[0] || `${files.size} files`;
  let done = 0;
  return {
    origin: 'folder',
    label,
    cacheKey: null,
    async resolve(name) {
      const f = files.get(name);
      if (!f) return null;
      const src = blobSource(f, name);
      return isWeightFile(name) ? counted(src, (n) => { done += n; }) : src;
    },
    async readText(name) {
      return (await files.get(name)?.text()) ?? null;
    },
    async weightFiles() {
      const names = await weightFileNames(this.readText);
      return names.filter((n) => files.has(n)).map((n) => ({ name: n, size: files.get(n)!.size }));
    },
    get bytesDone() { return done; },
    async finish() {},
    dispose() {},
  };
}

/** A complete cache entry: every file from the OPFS, no network. */
export function cachedFiles(entry: CacheEntry): ModelFiles {
  let done = 0;
  const stored = async (name: string): Promise<File | null> => {
    const m = entry.meta.files[name];
    if (!m || m.size === null) return null; // absent from the folder (or never asked for): the loader's default
    const f = await entry.file(name);
    if (!f || f.size !== m.size || !m.done) {
      throw new AppError('bad_input', `the cached copy of ${entry.meta.url} lacks ${name} (${f ? `${f.size} of ${m.size} bytes` : 'missing'}): load it from its URL to repair the cache`);
    }
    return f;
  };
  return {
    origin: 'cache',
    label: entry.meta.url,
    cacheKey: entry.key,
    async resolve(name) {
      const f = await stored(name);
      if (!f) return null;
      const src = blobSource(f, name);
      return isWeightFile(name) ? counted(src, (n) => { done += n; }) : src;
    },
    async readText(name) {
      return (await (await stored(name))?.text()) ?? null;
    },
    async weightFiles() {
      const names = await weightFileNames(this.readText);
      return names.map((n) => ({ name: n, size: entry.meta.files[n]?.size ?? 0 }));
    },
    get bytesDone() { return done; },
    async finish() {
      entry.meta.lastUsed = new Date().toISOString();
      await entry.saveMeta();
    },
    dispose() {},
  };
}
