// Values parsed from untrusted JSON files (config.json, safetensors headers, indexes, replay files) handled
// without recursion: JSON.parse accepts any nesting depth, but JSON.stringify and naive equality recurse and
// overflow the stack ("Maximum call stack size exceeded") on a value nested a few thousand levels deep, and a
// 50,000-element list does not belong in an error message. Platform-neutral.

/** JSON text of `v` for an error message: JSON.stringify's text, cut after `maxChars` characters with `…`. */
export function jsonSnippet(v: unknown, maxChars = 120): string {
  if (v === undefined) return 'undefined';
  let out = '';
  /** Work list: values still to write, and literal text (closing brackets, separators). */
  const todo: ({ text: string } | { value: unknown; inArray: boolean })[] = [{ value: v, inArray: true }];
  while (todo.length && out.length <= maxChars) {
    const item = todo.pop()!;
    if ('text' in item) {
      out += item.text;
      continue;
    }
    const x = item.value;
    if (Array.isArray(x)) {
      out += '[';
      todo.push({ text: ']' });
      for (let i = x.length - 1; i >= 0; i--) {
        todo.push({ value: x[i], inArray: true });
        if (i > 0) todo.push({ text: ',' });
      }
    } else if (x !== null && typeof x === 'object') {
      const entries = Object.entries(x).filter(([, y]) => y !== undefined && typeof y !== 'function');
      out += '{';
      todo.push({ text: '}' });
      for (let i = entries.length - 1; i >= 0; i--) {
        todo.push({ value: entries[i]![1], inArray: false });
        todo.push({ text: `${JSON.stringify(entries[i]![0])}:` });
        if (i > 0) todo.push({ text: ',' });
      }
    } else {
      out += typeof x === 'bigint' ? String(x) : (JSON.stringify(x) ?? 'null');
    }
  }
  return out.length > maxChars || todo.length ? `${out.slice(0, maxChars)}…` : out;
}

/** Whether two parsed JSON values are equal (same members in the same order, as their JSON texts would be). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  const pairs: [unknown, unknown][] = [[a, b]];
  while (pairs.length) {
    const [x, y] = pairs.pop()!;
    if (Array.isArray(x) || Array.isArray(y)) {
      if (!Array.isArray(x) || !Array.isArray(y) || x.length !== y.length) return false;
      for (let i = 0; i < x.length; i++) pairs.push([x[i], y[i]]);
    } else if (x !== null && y !== null && typeof x === 'object' && typeof y === 'object') {
      const kx = Object.keys(x);
      const ky = Object.keys(y);
      if (kx.length !== ky.length || kx.some((k, i) => k !== ky[i])) return false;
      for (const k of kx) pairs.push([(x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k]]);
    } else if (x !== y) return false;
  }
  return true;
}
