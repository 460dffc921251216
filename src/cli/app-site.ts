// The chat app's page for `vilavt app`: built with esbuild in a checkout (web-site.ts), or read from the
// single executable's assets (scripts/build-sea.ts puts it there).
import { createRequire } from 'node:module';

/** Asset key prefix of the page's files inside the single executable; `${prefix}files.json` lists their names. */
export const SITE_ASSET_PREFIX = 'web/';
export const SITE_INDEX_ASSET = `${SITE_ASSET_PREFIX}files.json`;

/** node:sea when this process is a single executable, else null. */
function seaModule(): { isSea(): boolean; getAsset(key: string): ArrayBuffer } | null {
  try {
    // In the executable (a CommonJS bundle) `require` loads built-ins; in a checkout this is an ES module.
    const load = typeof require === 'function' ? require : createRequire(import.meta.url);
    const sea = load('node:sea') as { isSea(): boolean; getAsset(key: string): ArrayBuffer };
    return sea.isSea() ? sea : null;
  } catch {
    return null; // Node < 20.12 has no node:sea (and is then no single executable)
  }
}

export async function appSite(): Promise<Map<string, Uint8Array>> {
  const sea = seaModule();
  if (sea) {
    const names = JSON.parse(new TextDecoder().decode(sea.getAsset(SITE_INDEX_ASSET))) as string[];
    return new Map(names.map((f) => [f, new Uint8Array(sea.getAsset(SITE_ASSET_PREFIX + f))]));
  }
  const { buildWebSite } = await import('./web-site.js');
  return buildWebSite();
}
