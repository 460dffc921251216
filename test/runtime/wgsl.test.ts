import { describe, expect, it } from 'vitest';
import { getGpu, CORE } from '../helpers/gpu.js';
import { expandModule, locate, preprocess, MAX_INCLUDE_DEPTH } from '../../src/runtime/wgsl.js';
import { PipelineCache } from '../../src/runtime/pipeline-cache.js';
import { ShaderCompileError } from '../../src/runtime/errors.js';

describe('wgsl #include', () => {
  it('splices the snippet in place and maps every line back to its file', () => {
    const sources = { _s: 's1\ns2' };
    expect(preprocess('a\n#include "_s.wgsl"\nb', {}, 'k', sources).split('\n')).toEqual(['a', 's1', 's2', 'b']);
    // A trailing comment may say what the snippet provides.
    expect(preprocess('#include "_s.wgsl" // s1, s2', {}, 'k', sources)).toBe('s1\ns2');
    const mod = expandModule('k', 'a\n#include "_s.wgsl"\nb', {}, sources);
    expect(mod.code.split('\n').slice(1)).toEqual(['a', 's1', 's2', 'b']); // line 1 is the prelude
    expect(mod.origin.map((o) => `${o.file}:${o.line}`)).toEqual(['<prelude>:1', 'k.wgsl:1', '_s.wgsl:1', '_s.wgsl:2', 'k.wgsl:3']);
    expect(locate(mod.origin, 4)).toBe('_s.wgsl:2');
    expect(locate(mod.origin, 5)).toBe('k.wgsl:3');
    expect(locate(null, 5)).toBe('line 5');
  });

  it('applies #if inside included snippets with the kernel defines', () => {
    const sources = { _s: '#if X\nx\n#else\nnot_x\n#endif' };
    expect(preprocess('a\n#include "_s.wgsl"', { X: true }, 'k', sources).split('\n')).toEqual(['a', '', 'x', '', '', '']);
    expect(preprocess('a\n#include "_s.wgsl"', {}, 'k', sources).split('\n')).toEqual(['a', '', '', '', 'not_x', '']);
    // An include inside an inactive branch is still resolved, but its lines are dropped.
    expect(preprocess('#if X\n#include "_s.wgsl"\n#endif', {}, 'k', sources)).toBe('\n\n\n\n\n\n');
  });

  it('includes nest, snippets may be shared by several includers', () => {
    const sources = { _a: 'a\n#include "_b.wgsl"', _b: 'b' };
    expect(preprocess('#include "_a.wgsl"\n#include "_b.wgsl"', {}, 'k', sources)).toBe('a\nb\nb');
  });

  it('rejects cycles, deep chains, unknown names and malformed includes', () => {
    const cyc = { _a: '#include "_b.wgsl"', _b: 'x\n#include "_a.wgsl"' };
    expect(() => preprocess('#include "_a.wgsl"', {}, 'k', cyc)).toThrow(/_b\.wgsl:2: include cycle k\.wgsl -> _a\.wgsl -> _b\.wgsl -> _a\.wgsl/);
    expect(() => preprocess('#include "_s.wgsl"', {}, 'k', { _s: '#include "_s.wgsl"' })).toThrow(/include cycle/);
    expect(() => preprocess('#include "k.wgsl"', {}, 'k', { k: '' })).toThrow(/include cycle/);
    // Snippets _0 .. _{n-1}, each including the next; the kernel includes _0, so _{n-1} sits at depth n.
    const chain = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) =>
      [`_${i}`, i === n - 1 ? 'leaf' : `#include "_${i + 1}.wgsl"`]));
    expect(preprocess('#include "_0.wgsl"', {}, 'k', chain(MAX_INCLUDE_DEPTH))).toBe('leaf');
    expect(() => preprocess('#include "_0.wgsl"', {}, 'k', chain(MAX_INCLUDE_DEPTH + 1))).toThrow(/nested deeper than/);
    expect(() => preprocess('a\n#include "_nope.wgsl"', {}, 'k', {})).toThrow(/k\.wgsl:2: unknown include '_nope\.wgsl'/);
    expect(() => preprocess('#include _s.wgsl', {}, 'k', { _s: '' })).toThrow(/bad include/);
    expect(() => preprocess('#include "_s.wgsl" trailing', {}, 'k', { _s: '' })).toThrow(/bad include/);
    expect(() => preprocess('#include "_nope.wgsl"', {}, 'k', {})).toThrow(ShaderCompileError);
  });

  it('names the snippet and its line in preprocessor errors', () => {
    expect(() => preprocess('a\n#include "_s.wgsl"', {}, 'k', { _s: 'x\n#elif Y' })).toThrow(/_s\.wgsl:2: #elif without #if/);
    expect(() => preprocess('a\n#include "_s.wgsl"\n#bogus', {}, 'k', { _s: 'x' })).toThrow(/k\.wgsl:3: unknown directive/);
  });
});

describe('compile errors inside included snippets', () => {
  const sources = {
    k: '// kernel k\n#include "_helper.wgsl"\n@compute @workgroup_size(1) fn main() { helper(); }',
    _helper: '// helper\n#if BAD\nfn helper() { let x: u32 = 1.5; }\n#else\nfn helper() { }\n#endif',
    broken: '#include "_helper.wgsl"\n\n@compute @workgroup_size(1) fn main() { helper(); nope(); }',
  };

  it('reports file:line of the snippet or the kernel (async and hot paths)', async () => {
    const gpu = await getGpu(CORE);
    const cache = new PipelineCache(gpu.device, sources);
    await expect(cache.getAsync('k')).resolves.toBeDefined(); // the good variant compiles
    const e = await cache.getAsync('k', { defines: { BAD: true } }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ShaderCompileError);
    expect((e as ShaderCompileError).compilerMessage).toMatch(/^ {2}_helper\.wgsl:3:\d+: .*u32/);
    // The kernel's own line after a 6-line include is still its own line 3.
    const e2 = await cache.getAsync('broken').catch((x: unknown) => x);
    expect((e2 as ShaderCompileError).compilerMessage).toMatch(/^ {2}broken\.wgsl:3:\d+: .*nope/);
    cache.get('k', { defines: { BAD: true } });
    const e3 = await cache.takeErrors();
    expect(e3?.compilerMessage).toMatch(/_helper\.wgsl:3:\d+: .*u32/);
  });
});
