/**
 * The `vilavt` CLI as a single executable (Node's single executable applications), so a desktop user needs no
 * Node install:
 *   dist/vilavt                      node + the bundled CLI (esbuild → CommonJS → SEA blob → postject)
 *   dist/vilavt-lib/node_modules/    the native parts beside it: webgpu (dawn.node for this platform) and sharp
 *                                    (+ its libvips), loaded from there with createRequire
 * The executable is for this platform and architecture (it is this Node binary).
 *
 *   npm run build:sea       (rebuilds only when an input changed; --force to rebuild anyway)
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { SITE_ASSET_PREFIX, SITE_INDEX_ASSET } from '../src/cli/app-site.js';
import { buildWebSite } from '../src/cli/web-site.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');
const work = join(dist, 'sea-build');
const LIB = 'vilavt-lib';
/** Packages with native code: not bundled, copied beside the executable and required from there. */
const NATIVE = ['webgpu', 'sharp'];

/** The folder of an installed package, found as Node finds it: node_modules/NAME in `from` or a folder above. */
function packageDir(name: string, from = root): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const p = join(dir, 'node_modules', name);
    if (existsSync(join(p, 'package.json'))) return realpathSync(p);
    if (dirname(dir) === dir) throw new Error(`package ${name} is not installed (looked from ${from})`);
  }
}

/** Inside the executable, `require` only loads built-in modules: the native packages come from vilavt-lib/. */
const BANNER = `const __vilavtNativeRequire = (() => {
  const { createRequire } = require('node:module');
  const { dirname, join } = require('node:path');
  let sea = false;
  try { sea = require('node:sea').isSea(); } catch {}
  return sea ? createRequire(join(dirname(process.execPath), '${LIB}', 'index.js')) : require;
})();`;

const nativePlugin: Plugin = {
  name: 'native-beside-executable',
  setup(b) {
    const filter = new RegExp(`^(${NATIVE.join('|')})$`);
    b.onResolve({ filter }, (a) => ({ path: a.path, namespace: 'native' }));
    b.onLoad({ filter: /.*/, namespace: 'native' }, (a) => ({ contents: `module.exports = __vilavtNativeRequire(${JSON.stringify(a.path)});`, loader: 'js' }));
  },
};

/** The runtime files of the native packages (this platform only) into dist/vilavt-lib/node_modules. */
function copyNatives(): void {
  const out = join(dist, LIB, 'node_modules');
  rmSync(join(dist, LIB), { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  writeFileSync(join(dist, LIB, 'index.js'), '// anchor for require() of the native packages below\n');
  const gpu = packageDir('webgpu');
  const plat = `${process.platform}-${process.platform === 'darwin' ? 'universal' : process.arch}`;
  for (const f of ['package.json', 'index.js', 'LICENSE.md']) cpSync(join(gpu, f), join(out, 'webgpu', f));
  cpSync(join(gpu, 'dist', plat), join(out, 'webgpu', 'dist', plat), { recursive: true });
  // sharp and its runtime dependencies (the @img binaries of this platform are its installed optional ones).
  const sharp = packageDir('sharp');
  const deps = new Set<string>(['sharp']);
  const queue = ['sharp'];
  while (queue.length) {
    const name = queue.shift()!;
    const pj = JSON.parse(readFileSync(join(packageDir(name, name === 'sharp' ? root : sharp), 'package.json'), 'utf8')) as { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> };
    for (const d of [...Object.keys(pj.dependencies ?? {}), ...Object.keys(pj.optionalDependencies ?? {})]) {
      if (deps.has(d)) continue;
      try {
        packageDir(d, sharp);
      } catch {
        continue; // an optional dependency for another platform
      }
      deps.add(d);
      queue.push(d);
    }
  }
  for (const d of deps) cpSync(packageDir(d, sharp), join(out, d), { recursive: true, dereference: true });
}

/** Hash of everything the executable is made from. */
function inputsKey(): string {
  const h = createHash('sha256').update(process.version).update(process.execPath);
  const walk = (dir: string) => {
    let files: string[];
    try {
      files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', dir], { cwd: root, encoding: 'utf8' }).split('\n').filter(Boolean).sort();
    } catch {
      h.update(String(Math.random())); // not a git checkout: no reliable file list, always rebuild
      return;
    }
    for (const f of files) {
      if (existsSync(join(root, f))) h.update(f).update(readFileSync(join(root, f)));
    }
  };
  walk('src');
  walk('kernels');
  h.update(readFileSync(join(root, 'package-lock.json')));
  h.update(readFileSync(fileURLToPath(import.meta.url)));
  return h.digest('hex');
}

export async function buildSea(opts: { force?: boolean } = {}): Promise<{ exe: string; skipped: boolean }> {
  const exe = join(dist, process.platform === 'win32' ? 'vilavt.exe' : 'vilavt');
  execFileSync(process.execPath, [join(root, 'scripts', 'gen-wgsl.mjs')], { cwd: root, stdio: 'ignore' });
  const key = inputsKey();
  const stamp = join(dist, 'vilavt.stamp');
  if (!opts.force && existsSync(exe) && existsSync(join(dist, LIB)) && existsSync(stamp) && readFileSync(stamp, 'utf8') === key) return { exe, skipped: true };

  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const bundle = join(work, 'vilavt.cjs');
  await build({
    entryPoints: [join(root, 'src', 'cli', 'sea-main.ts')],
    bundle: true, platform: 'node', format: 'cjs', target: 'node20', outfile: bundle,
    banner: { js: BANNER }, plugins: [nativePlugin], logLevel: 'warning',
    // `vilavt app` builds its page with esbuild only in a checkout; the executable carries the built page as assets.
    external: ['esbuild'],
    // import.meta.url only decides "run as a script" in modules the executable never runs as scripts.
    define: { 'import.meta.url': '"vilavt:bundle"' },
  });
  const config = join(work, 'sea-config.json');
  const blob = join(work, 'sea-prep.blob');
  // The chat app's page for `vilavt app` (read back with sea.getAsset, src/cli/app-site.ts).
  const assets: Record<string, string> = {};
  const site = await buildWebSite();
  mkdirSync(join(work, 'web'), { recursive: true });
  for (const [name, bytes] of site) {
    const file = join(work, 'web', name.replaceAll('/', '_'));
    writeFileSync(file, bytes);
    assets[`${SITE_ASSET_PREFIX}${name}`] = file;
  }
  writeFileSync(join(work, 'web-files.json'), JSON.stringify([...site.keys()]));
  assets[SITE_INDEX_ASSET] = join(work, 'web-files.json');
  writeFileSync(config, JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useCodeCache: false, assets }));
  execFileSync(process.execPath, ['--experimental-sea-config', config], { cwd: work, stdio: 'inherit' });
  rmSync(exe, { force: true });
  copyFileSync(process.execPath, exe);
  const postject = join(packageDir('postject'), 'dist', 'cli.js');
  execFileSync(process.execPath, [postject, exe, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2',
    ...(process.platform === 'darwin' ? ['--macho-segment-name', 'NODE_SEA'] : [])], { stdio: 'ignore' });
  copyNatives();
  rmSync(work, { recursive: true, force: true });
  writeFileSync(stamp, key);
  return { exe, skipped: false };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const t0 = performance.now();
  buildSea({ force: process.argv.includes('--force') }).then(
    (r) => console.log(`build:sea: ${relative(process.cwd(), r.exe)} ${r.skipped ? 'is up to date' : 'built'} (${Math.round(performance.now() - t0)} ms)`),
    (e: unknown) => {
      console.error(`build:sea failed: ${e instanceof Error ? e.message : String(e)}`);
      process.exit(1);
    },
  );
}
