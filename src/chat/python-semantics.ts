// Everything in the reference loop whose behaviour comes from CPython itself rather than from the
// authors' code: json.loads, str()/repr(), float(), iteration, comparisons, ast.literal_eval, str.strip
// and the `\s` of `re`. Targets CPython 3.11+ (4300-digit int limit, "a real number" wording).

import { formatPyFloat } from '../preprocess/py-format.js';

/**
 * A Python value. The JS type keeps Python's types apart: `null` = None, boolean = bool,
 * bigint = int (arbitrary precision), number = float, string = str, array = list.
 */
export type PyValue = null | boolean | bigint | number | string | PyValue[] | PyTuple | PyDict;

export class PyTuple {
  constructor(readonly items: readonly PyValue[]) {}
}

/** A dict: insertion-ordered entries with Python key equality (1 == 1.0 == True). */
export class PyDict {
  readonly entries: [PyValue, PyValue][] = [];

  static fromObject(obj: Record<string, PyValue>): PyDict {
    const d = new PyDict();
    for (const [k, v] of Object.entries(obj)) d.set(k, v);
    return d;
  }

  private find(key: PyValue): number {
    return this.entries.findIndex(([k]) => pyKeyEquals(k, key));
  }
  has(key: PyValue): boolean {
    return this.find(key) >= 0;
  }
  get(key: PyValue): PyValue | undefined {
    const i = this.find(key);
    return i >= 0 ? this.entries[i]![1] : undefined;
  }
  /** d[key] = value: an existing key keeps its position and its original key object. */
  set(key: PyValue, value: PyValue): void {
    const i = this.find(key);
    if (i >= 0) this.entries[i]![1] = value;
    else this.entries.push([key, value]);
  }
  keys(): PyValue[] {
    return this.entries.map(([k]) => k);
  }
}

/** A Python exception, carried as its class name and its `str(exception)` text. */
export class PyException extends Error {
  constructor(
    readonly pyType: string,
    message: string,
  ) {
    super(message);
    this.name = 'PyException';
  }
}

/** json.JSONDecodeError (a ValueError subclass); anything else thrown by pyJsonLoads is not one. */
export class PyJsonDecodeError extends PyException {
  constructor(
    readonly msg: string,
    readonly pos: number,
  ) {
    super('JSONDecodeError', `${msg}: char ${pos}`);
  }
}

/** A construct ast.literal_eval accepts but this port does not model (set, bytes, complex, \N{...}). */
export class PyLiteralUnsupportedError extends Error {
  constructor(what: string) {
    super(`python literal not supported by this port: ${what}`);
    this.name = 'PyLiteralUnsupportedError';
  }
}

// ------------------------------------------------------------------------------------------ types

export function pyTypeName(v: PyValue): string {
  if (v === null) return 'NoneType';
  switch (typeof v) {
    case 'boolean':
      return 'bool';
    case 'bigint':
      return 'int';
    case 'number':
      return 'float';
    case 'string':
      return 'str';
  }
  if (Array.isArray(v)) return 'list';
  if (v instanceof PyTuple) return 'tuple';
  return 'dict';
}

function isNumeric(v: PyValue): v is boolean | bigint | number {
  return typeof v === 'boolean' || typeof v === 'bigint' || typeof v === 'number';
}

/** Dict-key equality (hash + ==) for hashable values. */
function pyKeyEquals(a: PyValue, b: PyValue): boolean {
  if (isNumeric(a) && isNumeric(b)) return pyCompareNumbers(a, b) === 0;
  if (typeof a === 'string' || typeof b === 'string' || a === null || b === null) return a === b;
  if (a instanceof PyTuple && b instanceof PyTuple) {
    return a.items.length === b.items.length && a.items.every((x, i) => pyKeyEquals(x, b.items[i]!));
  }
  return false;
}

// ----------------------------------------------------------------------------- str() and repr()

const INT_MAX_STR_DIGITS = 4300;

function intToStr(v: bigint): string {
  const s = v.toString();
  if (s.length - (v < 0n ? 1 : 0) > INT_MAX_STR_DIGITS) {
    throw new PyException(
      'ValueError',
      `Exceeds the limit (${INT_MAX_STR_DIGITS} digits) for integer string conversion; use sys.set_int_max_str_digits() to increase the limit`,
    );
  }
  return s;
}

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

// --------------------------------------------------------------------------- whitespace / strip

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

// ------------------------------------------------------------------------------------ json.loads

const JSON_WS = ' \t\n\r';

/**
 * Python's json.loads(text) for a str argument (C scanner, strict=True): also accepts NaN,
 * Infinity and -Infinity; duplicate keys keep the first position and the last value; integers
 * become bigint, numbers with a fraction or exponent become float. Throws PyJsonDecodeError for
 * malformed text and PyException('ValueError') for an integer over 4300 digits (not a decode
 * error in Python). Nesting depth is not limited (CPython raises RecursionError near ~1000).
 */
export function pyJsonLoads(text: string): PyValue {
  if (text.startsWith('\ufeff')) throw new PyJsonDecodeError('Unexpected UTF-8 BOM (decode using utf-8-sig)', 0);
  let pos = 0;
  const skipWs = (): void => {
    while (pos < text.length && JSON_WS.includes(text[pos]!)) pos++;
  };
  const fail = (msg: string, at = pos): never => {
    throw new PyJsonDecodeError(msg, at);
  };

  const parseString = (): string => {
    // pos is just after the opening quote
    let out = '';
    for (;;) {
      if (pos >= text.length) fail('Unterminated string starting at');
      const ch = text[pos]!;
      if (ch === '"') {
        pos++;
        return out;
      }
      if (ch === '\\') {
        const e = text[pos + 1];
        pos += 2;
        switch (e) {
          case '"':
            out += '"';
            break;
          case '\\':
            out += '\\';
            break;
          case '/':
            out += '/';
            break;
          case 'b':
            out += '\b';
            break;
          case 'f':
            out += '\f';
            break;
          case 'n':
            out += '\n';
            break;
          case 'r':
            out += '\r';
            break;
          case 't':
            out += '\t';
            break;
          case 'u': {
            const hex = text.slice(pos, pos + 4);
            if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('Invalid \\uXXXX escape', pos - 1);
            // Surrogate pairs need no special case: UTF-16 code units concatenate to the same string.
            out += String.fromCharCode(parseInt(hex, 16));
            pos += 4;
            break;
          }
          default:
            fail('Invalid \\escape', pos - 2);
        }
        continue;
      }
      if (ch.charCodeAt(0) < 0x20) fail('Invalid control character at');
      out += ch;
      pos++;
    }
  };

  const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/y;

  const parseValue = (): PyValue => {
    const ch = text[pos];
    if (ch === '"') {
      pos++;
      return parseString();
    }
    if (ch === '{') {
      pos++;
      const d = new PyDict();
      skipWs();
      if (text[pos] === '}') {
        pos++;
        return d;
      }
      for (;;) {
        if (text[pos] !== '"') fail('Expecting property name enclosed in double quotes');
        pos++;
        const key = parseString();
        skipWs();
        if (text[pos] !== ':') fail("Expecting ':' delimiter");
        pos++;
        skipWs();
        d.set(key, parseValue());
        skipWs();
        if (text[pos] === '}') {
          pos++;
          return d;
        }
        if (text[pos] !== ',') fail("Expecting ',' delimiter");
        pos++;
        skipWs();
      }
    }
    if (ch === '[') {
      pos++;
      const list: PyValue[] = [];
      skipWs();
      if (text[pos] === ']') {
        pos++;
        return list;
      }
      for (;;) {
        list.push(parseValue());
        skipWs();
        if (text[pos] === ']') {
          pos++;
          return list;
        }
        if (text[pos] !== ',') fail("Expecting ',' delimiter");
        pos++;
        skipWs();
      }
    }
    for (const [word, value] of [
      ['null', null],
      ['true', true],
      ['false', false],
      ['NaN', NaN],
      ['Infinity', Infinity],
      ['-Infinity', -Infinity],
    ] as const) {
      if (text.startsWith(word, pos)) {
        pos += word.length;
        return value;
      }
    }
    NUMBER.lastIndex = pos;
    const m = NUMBER.exec(text);
    if (!m) return fail('Expecting value');
    pos += m[0].length;
    if (m[1] === undefined && m[2] === undefined) {
      const digits = m[0].length - (m[0].startsWith('-') ? 1 : 0);
      if (digits > INT_MAX_STR_DIGITS) {
        throw new PyException(
          'ValueError',
          `Exceeds the limit (${INT_MAX_STR_DIGITS} digits) for integer string conversion: value has ${digits} digits; use sys.set_int_max_str_digits() to increase the limit`,
        );
      }
      return BigInt(m[0]);
    }
    return Number(m[0]); // correctly rounded, overflow -> inf, like float()
  };

  skipWs();
  const value = parseValue();
  skipWs();
  if (pos !== text.length) fail('Extra data');
  return value;
}

// ---------------------------------------------------------------------------------------- float()

/** float() first maps Unicode spaces to ' ' and Unicode decimal digits to ASCII; other non-ASCII fails. */
function asciiDigitsOf(s: string): string | null {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c < 0x80) out += ch;
    else if (PY_WHITESPACE.includes(ch)) out += ' ';
    else if (/^\p{Nd}$/u.test(ch)) out += String(decimalDigitValueOf(ch));
    else return null;
  }
  return out;
}

/** Value of a Unicode decimal digit (Nd): Nd characters come in contiguous runs of ten from zero. */
function decimalDigitValueOf(ch: string): number {
  let c = ch.codePointAt(0)!;
  while (/^\p{Nd}$/u.test(String.fromCodePoint(c - 1))) c--;
  return (ch.codePointAt(0)! - c) % 10;
}

const FLOAT_BODY = /^[+-]?(?:(?:\d(?:_?\d)*)?\.\d(?:_?\d)*|\d(?:_?\d)*\.?)(?:[eE][+-]?\d(?:_?\d)*)?$/;
const FLOAT_SPECIAL = /^([+-]?)(inf|infinity|nan)$/i;

/** Python float(x) for int, float, bool and str; anything else raises TypeError. */
export function pyFloat(v: PyValue): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'bigint') {
    const f = Number(v); // round-half-even, like int.__float__
    if (!Number.isFinite(f)) throw new PyException('OverflowError', 'int too large to convert to float');
    return f;
  }
  if (typeof v === 'string') {
    const ascii = asciiDigitsOf(v);
    const body = ascii === null ? null : ascii.replace(/^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g, '');
    if (body !== null) {
      const special = FLOAT_SPECIAL.exec(body);
      if (special) {
        const neg = special[1] === '-';
        if (special[2]!.toLowerCase() === 'nan') return NaN;
        return neg ? -Infinity : Infinity;
      }
      if (FLOAT_BODY.test(body)) return Number(body.replaceAll('_', ''));
    }
    throw new PyException('ValueError', `could not convert string to float: ${pyReprStr(v)}`);
  }
  throw new PyException('TypeError', `float() argument must be a string or a real number, not '${pyTypeName(v)}'`);
}

// ----------------------------------------------------------------------- iteration / comparison

/** `for x in v`: a list or tuple by element, a str by character, a dict by key. */
export function pyIterate(v: PyValue): PyValue[] {
  if (Array.isArray(v)) return v;
  if (v instanceof PyTuple) return [...v.items];
  if (v instanceof PyDict) return v.keys();
  if (typeof v === 'string') return [...v];
  throw new PyException('TypeError', `'${pyTypeName(v)}' object is not iterable`);
}

/** Exact three-way comparison of int/float/bool (NaN compares unordered -> NaN). */
function pyCompareNumbers(a: boolean | bigint | number, b: boolean | bigint | number): number {
  const na = typeof a === 'boolean' ? (a ? 1n : 0n) : a;
  const nb = typeof b === 'boolean' ? (b ? 1n : 0n) : b;
  if (typeof na === 'bigint' && typeof nb === 'bigint') return na < nb ? -1 : na > nb ? 1 : 0;
  if (typeof na === 'number' && typeof nb === 'number') return na < nb ? -1 : na > nb ? 1 : na === nb ? 0 : NaN;
  // int vs float, compared exactly (as CPython does), not by converting the int to a double.
  const [i, f, sign] = typeof na === 'bigint' ? [na, nb as number, 1] : [nb as bigint, na as number, -1];
  if (Number.isNaN(f)) return NaN;
  if (f === Infinity) return -sign;
  if (f === -Infinity) return sign;
  const fl = BigInt(Math.floor(f));
  let c: number;
  if (i < fl) c = -1;
  else if (i > fl) c = 1;
  else c = Number.isInteger(f) ? 0 : -1;
  return c * sign;
}

function compare(op: '<' | '<=', a: PyValue, b: PyValue): boolean {
  if (isNumeric(a) && isNumeric(b)) {
    const c = pyCompareNumbers(a, b);
    return op === '<' ? c < 0 : c <= 0;
  }
  if (typeof a === 'string' && typeof b === 'string') {
    // Python compares by code point; JS < compares UTF-16 units (differs only beyond the BMP).
    const ca = [...a].map((x) => x.codePointAt(0)!);
    const cb = [...b].map((x) => x.codePointAt(0)!);
    let k = 0;
    while (k < ca.length && k < cb.length && ca[k] === cb[k]) k++;
    const c = k < ca.length && k < cb.length ? ca[k]! - cb[k]! : ca.length - cb.length;
    return op === '<' ? c < 0 : c <= 0;
  }
  throw new PyException(
    'TypeError',
    `'${op}' not supported between instances of '${pyTypeName(a)}' and '${pyTypeName(b)}'`,
  );
}

/** a < b, raising Python's TypeError for unorderable types. (List/tuple ordering is not modelled.) */
export function pyLess(a: PyValue, b: PyValue): boolean {
  return compare('<', a, b);
}
/** a <= b, raising Python's TypeError for unorderable types. */
export function pyLessEqual(a: PyValue, b: PyValue): boolean {
  return compare('<=', a, b);
}

/** Strict structural equality that also tells int from float from bool (for golden checks). */
export function pyIdentical(a: PyValue, b: PyValue): boolean {
  if (typeof a !== typeof b) return false;
  if (typeof a === 'number') return Object.is(a, b) || a === b;
  if (a === null || typeof a !== 'object') return a === b;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => pyIdentical(x, b[i]!));
  if (a instanceof PyTuple) {
    return b instanceof PyTuple && a.items.length === b.items.length && a.items.every((x, i) => pyIdentical(x, b.items[i]!));
  }
  if (!(b instanceof PyDict) || a.entries.length !== b.entries.length) return false;
  return a.entries.every(([k, v], i) => pyIdentical(k, b.entries[i]![0]) && pyIdentical(v, b.entries[i]![1]));
}

/** True if the value holds a float NaN or +-inf anywhere (json.dumps would write non-JSON). */
export function pyHasNonFinite(v: PyValue): boolean {
  if (typeof v === 'number') return !Number.isFinite(v);
  if (Array.isArray(v)) return v.some(pyHasNonFinite);
  if (v instanceof PyTuple) return v.items.some(pyHasNonFinite);
  if (v instanceof PyDict) return v.entries.some(([k, x]) => pyHasNonFinite(k) || pyHasNonFinite(x));
  return false;
}

// ------------------------------------------------------------------------------ ast.literal_eval

/**
 * ast.literal_eval(text) for the subset a model could plausibly write: dict, list, tuple, str
 * (quotes, triple quotes, r/u prefixes, implicit concatenation, all escapes but \N{...}), int
 * (decimal/hex/octal/binary, underscores), float, True/False/None, unary +/- on numbers, comments and
 * line breaks. Throws PyException for text Python rejects and PyLiteralUnsupportedError for what
 * Python accepts but this port does not model (set, bytes, complex).
 */
export function pyLiteralEval(source: string): PyValue {
  const text = source.replace(/^[ \t]+/, ''); // literal_eval lstrips spaces and tabs
  let pos = 0;
  let depth = 0; // bracket depth: line breaks are insignificant inside brackets
  const err = (what: string): never => {
    throw new PyException('ValueError', `malformed node or string: ${what}`);
  };
  const skip = (): void => {
    for (;;) {
      const ch = text[pos];
      if (ch === ' ' || ch === '\t' || ch === '\f') pos++;
      else if (ch === '\\' && (text[pos + 1] === '\n' || text.startsWith('\r\n', pos + 1))) pos += text[pos + 1] === '\n' ? 2 : 3;
      else if (ch === '#') while (pos < text.length && text[pos] !== '\n' && text[pos] !== '\r') pos++;
      else if ((ch === '\n' || ch === '\r') && depth > 0) pos++;
      else return;
    }
  };

  const STRING_START = /([rRuUbBfF]{0,2})('''|"""|'|")/y;
  const NUMBER =
    /(0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|(?:\d(?:_?\d)*)?\.\d(?:_?\d)*(?:[eE][+-]?\d(?:_?\d)*)?[jJ]?|\d(?:_?\d)*\.?(?:[eE][+-]?\d(?:_?\d)*)?[jJ]?)/y;

  const readString = (): string | null => {
    STRING_START.lastIndex = pos;
    const m = STRING_START.exec(text);
    if (!m) return null;
    const prefix = m[1]!.toLowerCase();
    if (!['', 'r', 'u', 'b', 'br', 'rb', 'f', 'fr', 'rf'].includes(prefix)) return null;
    if (prefix.includes('b')) throw new PyLiteralUnsupportedError('bytes literal');
    if (prefix.includes('f')) err('f-string');
    const raw = prefix.includes('r');
    const q = m[2]!;
    pos += m[0].length;
    let out = '';
    for (;;) {
      if (pos >= text.length) err('unterminated string');
      if (text.startsWith(q, pos)) {
        pos += q.length;
        return out;
      }
      const ch = text[pos]!;
      if ((ch === '\n' || ch === '\r') && q.length === 1) err('unterminated string');
      if (ch !== '\\') {
        out += ch;
        pos++;
        continue;
      }
      const e = text[pos + 1];
      if (e === undefined) err('unterminated string');
      if (raw) {
        out += ch + e;
        pos += 2;
        continue;
      }
      pos += 2;
      const simple: Record<string, string> = {
        '\n': '',
        '\\': '\\',
        "'": "'",
        '"': '"',
        a: '\x07',
        b: '\b',
        f: '\f',
        n: '\n',
        r: '\r',
        t: '\t',
        v: '\v',
      };
      if (e! in simple) {
        out += simple[e!];
        if (e === '\r' && text[pos] === '\n') pos++;
      } else if (e! >= '0' && e! <= '7') {
        let k = pos - 1;
        let oct = '';
        while (k < text.length && oct.length < 3 && text[k]! >= '0' && text[k]! <= '7') oct += text[k++];
        out += String.fromCodePoint(parseInt(oct, 8));
        pos = k;
      } else if (e === 'x' || e === 'u' || e === 'U') {
        const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
        const hex = text.slice(pos, pos + n);
        if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) err('truncated escape');
        const cp = parseInt(hex, 16);
        if (cp > 0x10ffff) err('illegal Unicode character');
        out += String.fromCodePoint(cp);
        pos += n;
      } else if (e === 'N') {
        throw new PyLiteralUnsupportedError('\\N{...} escape');
      } else {
        out += '\\' + e; // unknown escapes keep the backslash
      }
    }
  };

  const readNumber = (): bigint | number | null => {
    NUMBER.lastIndex = pos;
    const m = NUMBER.exec(text);
    if (!m) return null;
    const s = m[0];
    if (/[A-Za-z0-9_]/.test(text[pos + s.length] ?? '')) err('invalid number literal');
    pos += s.length;
    if (/[jJ]$/.test(s)) throw new PyLiteralUnsupportedError('complex literal');
    const plain = s.replaceAll('_', '');
    if (/^0[xXoObB]/.test(plain)) return BigInt(plain);
    if (/^\d+$/.test(plain)) {
      if (/^0+[1-9]/.test(plain)) err('leading zeros in decimal integer literals are not permitted');
      if (plain.length > INT_MAX_STR_DIGITS) err('integer literal too long');
      return BigInt(plain);
    }
    return Number(plain);
  };

  const parseSeq = (close: string): { items: PyValue[]; trailingComma: boolean } => {
    const items: PyValue[] = [];
    let trailingComma = false;
    skip();
    while (text[pos] !== close) {
      items.push(parseExpr());
      skip();
      trailingComma = false;
      if (text[pos] === ',') {
        pos++;
        trailingComma = true;
        skip();
      } else if (text[pos] !== close) err(`expected '${close}'`);
    }
    pos++;
    depth--;
    return { items, trailingComma };
  };

  const parseExpr = (): PyValue => {
    skip();
    const ch = text[pos];
    if (ch === '+' || ch === '-') {
      pos++;
      skip();
      const n = readNumber();
      if (n === null) err('unary operator on a non-number');
      if (text.slice(pos).match(/^\s*[+-]/)) throw new PyLiteralUnsupportedError('complex literal');
      return ch === '-' ? -n! : n!;
    }
    if (ch === '[') {
      pos++;
      depth++;
      return parseSeq(']').items;
    }
    if (ch === '(') {
      pos++;
      depth++;
      const { items, trailingComma } = parseSeq(')');
      return items.length === 1 && !trailingComma ? items[0]! : new PyTuple(items);
    }
    if (ch === '{') {
      pos++;
      depth++;
      const d = new PyDict();
      skip();
      while (text[pos] !== '}') {
        const key = parseExpr();
        skip();
        if (text[pos] !== ':') throw new PyLiteralUnsupportedError('set display');
        pos++;
        const value = parseExpr();
        if (Array.isArray(key) || key instanceof PyDict) {
          throw new PyException('TypeError', `unhashable type: '${pyTypeName(key)}'`);
        }
        d.set(key, value);
        skip();
        if (text[pos] === ',') {
          pos++;
          skip();
        } else if (text[pos] !== '}') err("expected '}'");
      }
      pos++;
      depth--;
      return d;
    }
    const str = readString();
    if (str !== null) {
      let s = str;
      for (;;) {
        skip();
        const next = readString();
        if (next === null) return s;
        s += next;
      }
    }
    const name = /[A-Za-z_][A-Za-z0-9_]*/y;
    name.lastIndex = pos;
    const nm = name.exec(text);
    if (nm) {
      pos += nm[0].length;
      if (nm[0] === 'True') return true;
      if (nm[0] === 'False') return false;
      if (nm[0] === 'None') return null;
      return err(`name ${nm[0]}`);
    }
    const n = readNumber();
    if (n === null) return err('unexpected character');
    skip();
    if (text[pos] === '+' || text[pos] === '-') throw new PyLiteralUnsupportedError('complex literal');
    return n;
  };

  const first = parseExpr();
  skip();
  let value = first;
  if (text[pos] === ',') {
    // A bare top-level tuple: `1, 2`
    const items = [first];
    while (text[pos] === ',') {
      pos++;
      skip();
      if (pos >= text.length || /^[\r\n]/.test(text.slice(pos))) break;
      items.push(parseExpr());
      skip();
    }
    value = new PyTuple(items);
  }
  while (pos < text.length && /[\r\n \t\f]/.test(text[pos]!)) pos++;
  if (pos !== text.length) err('trailing text');
  return value;
}
