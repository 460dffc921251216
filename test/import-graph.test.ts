// The layers of docs/ARCHITECTURE.md, checked on the source: every relative import of a file must land in its own
// folder or in a layer its folder may use, so arrows only point down. Platform-neutral layers also import no
// Node built-in or Node-only package (they run unchanged in the browser).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * What each lower layer may import (besides its own folder). Any other folder of src/ is an application at the
 * top (cli, browser, golden, …): it may import every layer, and no layer listed here may import it.
 */
const LAYERS: Readonly<Record<string, readonly string[]>> = {
  'src/util': [],
  'src/runtime': ['src/util'],
  'src/reference': ['src/ops', 'src/runtime', 'src/util'],
  'src/ops': ['src/runtime', 'src/util'],
  'src/selftest': ['src/ops', 'src/reference', 'src/runtime', 'src/util'],
  'src/py': ['src/runtime', 'src/util'],
  'src/preprocess': ['src/py', 'src/runtime', 'src/util'],
  'src/text': ['src/py', 'src/preprocess', 'src/runtime', 'src/util'],
  'src/model': ['src/ops', 'src/preprocess', 'src/runtime', 'src/util', 'weights-manifest.json'],
  'src/chat': ['src/model', 'src/ops', 'src/py', 'src/preprocess', 'src/text', 'src/runtime', 'src/util'],
  'src/platform': ['src/model', 'src/preprocess', 'src/text', 'src/runtime', 'src/util'],
};

/** Folders outside src/: tools and tests build on the product; scripts never reach into the tests. */
const OUTSIDE: Readonly<Record<string, readonly string[]>> = {
  scripts: ['src', 'weights-manifest.json'],
  bench: ['src'],
  bin: ['src', 'scripts'],
  test: ['src', 'scripts', 'bench', 'weights-manifest.json', 'package.json'],
};

/** Layers that run in the browser as well as in Node. */
const NEUTRAL = ['src/util', 'src/runtime', 'src/reference', 'src/ops', 'src/selftest', 'src/py', 'src/preprocess', 'src/text', 'src/model', 'src/chat'];
const NODE_ONLY = /^(node:|fs$|path$|os$|url$|child_process$|webgpu$|sharp$)/;

function filesUnder(dir: string): string[] {
  const abs = join(root, dir);
  let names: string[];
  try {
    names = readdirSync(abs);
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    if (n === 'node_modules' || n === 'fixtures' || n.startsWith('.')) return [];
    const rel = `${dir}/${n}`;
    if (statSync(join(root, rel)).isDirectory()) return filesUnder(rel);
    return /\.(ts|mts|mjs|js)$/.test(n) && !n.endsWith('.generated.ts') ? [rel] : [];
  });
}

/** Module specifiers of static imports, re-exports and dynamic imports. */
function specifiers(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(/^\s*(?:import|export)\b[^'"]*?\bfrom\s*['"]([^'"]+)['"]/gm)) out.push(m[1]!);
  for (const m of source.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm)) out.push(m[1]!);
  for (const m of source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1]!);
  return out;
}

/** The layer a repository path belongs to: src/<folder>, else its top-level folder or file. */
function layerOf(path: string): string {
  const parts = path.split('/');
  return parts[0] === 'src' && parts.length > 2 ? `src/${parts[1]}` : parts[0]!;
}

function allowed(from: string, to: string): boolean {
  if (from === to) return true;
  const lower = LAYERS[from];
  if (lower) return lower.includes(to);
  // An application folder of src/: every folder of src/ and the root JSON files.
  if (from.startsWith('src/')) return to.startsWith('src/') || to.endsWith('.json');
  const outside = OUTSIDE[from];
  return outside === undefined || outside.some((o) => to === o || to.startsWith(`${o}/`));
}

const files = ['src', 'scripts', 'bench', 'bin', 'test'].flatMap(filesUnder);
const edges = files.flatMap((file) => specifiers(readFileSync(join(root, file), 'utf8')).map((spec) => ({ file, spec })));

describe('import graph', () => {
  it('finds the source files and their imports', () => {
    expect(files.filter((f) => f.startsWith('src/')).length).toBeGreaterThan(50);
    expect(edges.filter((e) => e.spec.startsWith('.')).length).toBeGreaterThan(300);
  });

  it('no import points up a layer', () => {
    const bad: string[] = [];
    for (const { file, spec } of edges) {
      if (!spec.startsWith('.')) continue;
      const target = relative(root, resolve(root, dirname(file), spec));
      const from = layerOf(file);
      const to = layerOf(target);
      if (!allowed(from, to)) bad.push(`${file} imports ${target} (${from} -> ${to})`);
    }
    expect(bad).toEqual([]);
  });

  it('the platform-neutral layers import nothing Node-only', () => {
    const bad = edges.filter(({ file, spec }) => NEUTRAL.includes(layerOf(file)) && NODE_ONLY.test(spec))
      .map(({ file, spec }) => `${file} imports ${spec}`);
    expect(bad).toEqual([]);
  });

  it('the rule table rejects an upward import (the check can fail)', () => {
    expect(allowed('src/ops', 'src/model')).toBe(false);
    expect(allowed('src/text', 'src/chat')).toBe(false);
    expect(allowed('scripts', 'test')).toBe(false);
    expect(allowed('src/model', 'src/ops')).toBe(true);
    expect(allowed('src/cli', 'src/chat')).toBe(true);
  });
});

describe('kernel families', () => {
  // kernels/<family>[_<variant>].wgsl is driven by src/ops/<family>.ts, checked against src/reference/<family>.ts
  // by src/selftest/<family>.ts and test/kernels/<family>.test.ts, and timed by bench/cases/<family>.ts.
  const families = [...new Set(readdirSync(join(root, 'kernels')).filter((f) => f.endsWith('.wgsl') && !f.startsWith('_'))
    .map((f) => f.slice(0, -5).split('_')[0]!))].sort();

  it('every family has one name across kernels, ops, reference, self-test, tests and bench', () => {
    expect(families.length).toBeGreaterThanOrEqual(7);
    const missing = families.flatMap((fam) => [`src/ops/${fam}.ts`, `src/reference/${fam}.ts`, `src/selftest/${fam}.ts`,
      `test/kernels/${fam}.test.ts`, `bench/cases/${fam}.ts`].filter((p) => { try { return !statSync(join(root, p)).isFile(); } catch { return true; } }));
    expect(missing).toEqual([]);
  });
});
