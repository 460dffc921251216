// WGSL specialisation: a prelude chosen by the feature set plus a tiny line preprocessor
// (`#include "name.wgsl"`, `#if NAME`, `#if !NAME`, `#elif NAME`, `#else`, `#endif`). Numbers go through
// `override` constants instead. Includes are spliced in before the `#if` pass (snippets may use `#if`); every
// output line keeps its origin (file, line) so compiler messages can name the right place.
import { ShaderCompileError } from './errors.js';

export type Defines = Readonly<Record<string, boolean>>;
/** WGSL sources by name without `.wgsl` (kernels/*.wgsl; shared snippets are named `_*.wgsl`). */
export type Sources = Readonly<Record<string, string>>;

/** Where a line of generated WGSL came from: a file name such as `matmul.wgsl` and its 1-based line. */
export interface SourceLine { readonly file: string; readonly line: number }

/** A built module: its text and, for each of its lines (index = compiler line - 1), the origin. */
export interface KernelModule { readonly code: string; readonly origin: readonly SourceLine[] }

/** Nesting limit for includes: snippets are meant to be flat; deeper chains are a mistake. */
export const MAX_INCLUDE_DEPTH = 4;

interface Line { readonly text: string; readonly at: SourceLine }

const INCLUDE = /^\s*#include\s+"([A-Za-z0-9_]+)\.wgsl"\s*(\/\/.*)?$/;

/** Splices each `#include "name.wgsl"` line with the lines of `sources[name]` (recursively, acyclic). */
function expandIncludes(kernel: string, file: string, source: string, sources: Sources, chain: readonly string[]): Line[] {
  const out: Line[] = [];
  source.split('\n').forEach((text, i) => {
    const at = { file, line: i + 1 };
    if (!text.trim().startsWith('#include')) { out.push({ text, at }); return; }
    const m = INCLUDE.exec(text);
    if (!m) throw new ShaderCompileError(kernel, `${file}:${at.line}: bad include '${text.trim()}' (expected #include "name.wgsl")`);
    const name = `${m[1]!}.wgsl`;
    const path = [...chain, file, name].join(' -> ');
    if (chain.includes(name) || name === file) throw new ShaderCompileError(kernel, `${file}:${at.line}: include cycle ${path}`);
    if (chain.length + 1 > MAX_INCLUDE_DEPTH) {
      throw new ShaderCompileError(kernel, `${file}:${at.line}: includes nested deeper than ${MAX_INCLUDE_DEPTH}: ${path}`);
    }
    const snippet = sources[m[1]!];
    if (snippet === undefined) throw new ShaderCompileError(kernel, `${file}:${at.line}: unknown include '${name}' (kernels/${name})`);
    out.push(...expandIncludes(kernel, name, snippet, sources, [...chain, file]));
  });
  return out;
}

/** Conditional lines -> one output line per input line (directives and inactive lines become blank). */
function applyConditionals(lines: readonly Line[], defines: Defines, kernel: string): string[] {
  const out: string[] = [];
  // Each frame: is this branch active, has any branch of this #if been taken, was the parent active.
  const stack: { active: boolean; taken: boolean; parent: boolean }[] = [];
  const active = () => (stack.length === 0 ? true : stack[stack.length - 1]!.active);
  const fail = (at: SourceLine, msg: string) => new ShaderCompileError(kernel, `${at.file}:${at.line}: ${msg}`);
  const test = (expr: string, at: SourceLine): boolean => {
    const m = /^(!?)([A-Za-z_][A-Za-z0-9_]*)$/.exec(expr.trim());
    if (!m) throw fail(at, `bad preprocessor condition '${expr}'`);
    const v = defines[m[2]!] === true;
    return m[1] ? !v : v;
  };
  for (const { text, at } of lines) {
    const t = text.trim();
    if (t.startsWith('#')) out.push(''); // directives become blank lines: compiler line numbers stay true
    if (t.startsWith('#if ')) {
      const parent = active();
      const v = parent && test(t.slice(4), at);
      stack.push({ active: v, taken: v, parent });
    } else if (t.startsWith('#elif ')) {
      const f = stack[stack.length - 1];
      if (!f) throw fail(at, '#elif without #if');
      const v = f.parent && !f.taken && test(t.slice(6), at);
      f.active = v;
      f.taken ||= v;
    } else if (t === '#else') {
      const f = stack[stack.length - 1];
      if (!f) throw fail(at, '#else without #if');
      f.active = f.parent && !f.taken;
      f.taken = true;
    } else if (t === '#endif') {
      if (!stack.pop()) throw fail(at, '#endif without #if');
    } else if (t.startsWith('#')) {
      throw fail(at, `unknown directive '${t}'`);
    } else {
      out.push(active() ? text : ''); // inactive lines become empty for the same reason
    }
  }
  if (stack.length) throw new ShaderCompileError(kernel, `${kernel}.wgsl: unterminated #if`);
  return out;
}

/** Kernel text with includes (resolved in `sources`) and conditionals applied, without the prelude. */
export function preprocess(source: string, defines: Defines, kernel: string, sources: Sources = {}): string {
  return applyConditionals(expandIncludes(kernel, `${kernel}.wgsl`, source, sources, []), defines, kernel).join('\n');
}

/** The prelude every kernel sees: activation type aliases and optional `enable` directives. */
export function prelude(defines: Defines): string {
  const enables: string[] = [];
  if (defines.ACT_F16) enables.push('enable f16;');
  if (defines.SUBGROUPS) enables.push('enable subgroups;');
  const act = defines.ACT_F16 ? 'f16' : 'f32';
  return `${enables.join(' ')} alias act = ${act}; alias act2 = vec2<${act}>; alias act4 = vec4<${act}>;`;
}

/** Full module text (one prelude line, then the preprocessed kernel) with each line's origin. */
export function expandModule(kernel: string, source: string, defines: Defines, sources: Sources = {}): KernelModule {
  const lines = expandIncludes(kernel, `${kernel}.wgsl`, source, sources, []);
  const body = applyConditionals(lines, defines, kernel);
  return {
    code: `${prelude(defines)}\n${body.join('\n')}`,
    origin: [{ file: '<prelude>', line: 1 }, ...lines.map((l) => l.at)],
  };
}

/** Full module text; see `expandModule`. */
export function buildModule(kernel: string, source: string, defines: Defines, sources: Sources = {}): string {
  return expandModule(kernel, source, defines, sources).code;
}

/** `file:line` of compiler line `lineNum` (1-based) of a module, or `line N` when it has no origin. */
export function locate(origin: readonly SourceLine[] | null, lineNum: number): string {
  const at = origin?.[lineNum - 1];
  return at ? `${at.file}:${at.line}` : `line ${lineNum}`;
}
