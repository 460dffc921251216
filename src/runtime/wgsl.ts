// WGSL specialisation: a prelude chosen by the feature set plus a tiny line preprocessor
// (`#if NAME`, `#if !NAME`, `#elif NAME`, `#else`, `#endif`). Numbers go through `override` constants instead.

export type Defines = Readonly<Record<string, boolean>>;

export function preprocess(source: string, defines: Defines, kernel: string): string {
  const out: string[] = [];
  // Each frame: is this branch active, has any branch of this #if been taken, was the parent active.
  const stack: { active: boolean; taken: boolean; parent: boolean }[] = [];
  const active = () => (stack.length === 0 ? true : stack[stack.length - 1]!.active);
  const test = (expr: string, line: number): boolean => {
    const m = /^(!?)([A-Za-z_][A-Za-z0-9_]*)$/.exec(expr.trim());
    if (!m) throw new Error(`${kernel}.wgsl:${line}: bad preprocessor condition '${expr}'`);
    const v = defines[m[2]!] === true;
    return m[1] ? !v : v;
  };
  const lines = source.split('\n');
  lines.forEach((text, i) => {
    const t = text.trim();
    const line = i + 1;
    if (t.startsWith('#')) out.push(''); // directives become blank lines: compiler line numbers stay true
    if (t.startsWith('#if ')) {
      const parent = active();
      const v = parent && test(t.slice(4), line);
      stack.push({ active: v, taken: v, parent });
    } else if (t.startsWith('#elif ')) {
      const f = stack[stack.length - 1];
      if (!f) throw new Error(`${kernel}.wgsl:${line}: #elif without #if`);
      const v = f.parent && !f.taken && test(t.slice(6), line);
      f.active = v;
      f.taken ||= v;
    } else if (t === '#else') {
      const f = stack[stack.length - 1];
      if (!f) throw new Error(`${kernel}.wgsl:${line}: #else without #if`);
      f.active = f.parent && !f.taken;
      f.taken = true;
    } else if (t === '#endif') {
      if (!stack.pop()) throw new Error(`${kernel}.wgsl:${line}: #endif without #if`);
    } else if (t.startsWith('#')) {
      throw new Error(`${kernel}.wgsl:${line}: unknown directive '${t}'`);
    } else {
      out.push(active() ? text : ''); // inactive lines become empty for the same reason
    }
  });
  if (stack.length) throw new Error(`${kernel}.wgsl: unterminated #if`);
  return out.join('\n');
}

/** The prelude every kernel sees: activation type aliases and optional `enable` directives. */
export function prelude(defines: Defines): string {
  const enables: string[] = [];
  if (defines.ACT_F16 || defines.USE_F16) enables.push('enable f16;');
  if (defines.SUBGROUPS) enables.push('enable subgroups;');
  const act = defines.ACT_F16 ? 'f16' : 'f32';
  return `${enables.join(' ')} alias act = ${act}; alias act2 = vec2<${act}>; alias act4 = vec4<${act}>;`;
}

/** Full module text; the prelude is one line so compiler line numbers are offset by exactly one. */
export function buildModule(kernel: string, source: string, defines: Defines): string {
  return `${prelude(defines)}\n${preprocess(source, defines, kernel)}`;
}
