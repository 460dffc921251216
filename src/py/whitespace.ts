// Python's notion of whitespace: str.isspace(), str.strip() and the `\s` of `re`.

/** Characters for which str.isspace() is true (also what `\s` matches in a str pattern). */
export const PY_WHITESPACE =
  '\t\n\u000b\u000c\r\u001c\u001d\u001e\u001f \u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004' +
  '\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000';
/** `\s` of Python's `re` for str patterns, as a JS character class body. */
export const PY_RE_SPACE_CLASS = '[' + PY_WHITESPACE + ']';

/** str.strip() with no argument (differs from JS trim(): \x1c-\x1f and \x85 yes, \ufeff no). */
export function pyStrip(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && PY_WHITESPACE.includes(s[a]!)) a++;
  while (b > a && PY_WHITESPACE.includes(s[b - 1]!)) b--;
  return s.slice(a, b);
}
