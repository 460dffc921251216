// str() and repr() of Python values, exactly as CPython prints them.
import { formatPyFloat } from './float-repr.js';
import { intToStr } from './int-digits.js';
import { PyTuple, type PyValue } from './value.js';

// str.isprintable() is false for these categories (space U+0020 excepted).
const NON_PRINTABLE = /^[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]$/u;

/** repr() of a str: quote choice and escapes exactly as CPython's unicode_repr. */
export function pyReprStr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === quote || ch === '\\') out += '\\' + ch;
    else if (ch === '\t') out += '\\t';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else if (c < 0x7f || !NON_PRINTABLE.test(ch)) out += ch;
    else if (c <= 0xff) out += '\\x' + c.toString(16).padStart(2, '0');
    else if (c <= 0xffff) out += '\\u' + c.toString(16).padStart(4, '0');
    else out += '\\U' + c.toString(16).padStart(8, '0');
  }
  return out + quote;
}

/**
 * repr(v). Recursive: values reaching it come from pyJsonLoads / pyLiteralEval, which bound nesting
 * below ~1000 levels (src/py/recursion-limit.ts), far inside the JS stack.
 */
export function pyRepr(v: PyValue): string {
  if (v === null) return 'None';
  switch (typeof v) {
    case 'boolean':
      return v ? 'True' : 'False';
    case 'bigint':
      return intToStr(v);
    case 'number':
      return formatPyFloat(v);
    case 'string':
      return pyReprStr(v);
  }
  if (Array.isArray(v)) return '[' + v.map(pyRepr).join(', ') + ']';
  if (v instanceof PyTuple) {
    if (v.items.length === 1) return '(' + pyRepr(v.items[0]!) + ',)';
    return '(' + v.items.map(pyRepr).join(', ') + ')';
  }
  return '{' + v.entries.map(([k, x]) => pyRepr(k) + ': ' + pyRepr(x)).join(', ') + '}';
}

/** str(): the string itself for a str, repr() otherwise (containers repr their elements). */
export function pyStr(v: PyValue): string {
  return typeof v === 'string' ? v : pyRepr(v);
}
