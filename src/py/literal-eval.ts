// Python's ast.literal_eval for the subset a model could plausibly write, bounded like CPython's tokenizer.
import { PyException, PyLiteralUnsupportedError } from './errors.js';
import { INT_MAX_STR_DIGITS } from './int-digits.js';
import { PY_TOKENIZER_MAX_BRACKET_LEVEL } from './recursion-limit.js';
import { PyDict, PyTuple, pyTypeName, type PyValue } from './value.js';

/**
 * The SyntaxError CPython's tokenizer raises when the text nests more than 200 brackets, or null.
 * Scans the way the tokenizer does (strings and comments hold no brackets) so that the recursive
 * parser below never runs deeper than the bound. Other tokenizer errors (an unterminated string)
 * end the scan: the parser reports them, and it reaches them before any deeper bracket.
 */
export function pyBracketLevelError(text: string): PyException | null {
  let level = 0;
  let line = 1;
  let pos = 0;
  while (pos < text.length) {
    const ch = text[pos]!;
    if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[pos + 1] === '\n') pos++;
      line++;
      pos++;
    } else if (ch === '#') {
      while (pos < text.length && text[pos] !== '\n' && text[pos] !== '\r') pos++;
    } else if (ch === '"' || ch === "'") {
      const quote = text.startsWith(ch.repeat(3), pos) ? ch.repeat(3) : ch;
      pos += quote.length;
      for (;;) {
        if (pos >= text.length) return null;
        const c = text[pos]!;
        if (text.startsWith(quote, pos)) {
          pos += quote.length;
          break;
        }
        if ((c === '\n' || c === '\r') && quote.length === 1) return null;
        if (c === '\\') {
          pos++; // a backslash escapes the next character for the end search, raw strings too
          if (text[pos] === '\r' && text[pos + 1] === '\n') pos++;
          if (text[pos] === '\n' || text[pos] === '\r') line++;
        } else if (c === '\n' || (c === '\r' && text[pos + 1] !== '\n')) line++;
        pos++;
      }
    } else {
      if (ch === '(' || ch === '[' || ch === '{') {
        if (level >= PY_TOKENIZER_MAX_BRACKET_LEVEL) {
          return new PyException('SyntaxError', `too many nested parentheses (<unknown>, line ${line})`);
        }
        level++;
      } else if ((ch === ')' || ch === ']' || ch === '}') && level > 0) level--;
      pos++;
    }
  }
  return null;
}

/**
 * ast.literal_eval(text) for the subset a model could plausibly write: dict, list, tuple, str
 * (quotes, triple quotes, r/u prefixes, implicit concatenation, all escapes but \N{...}), int
 * (decimal/hex/octal/binary, underscores), float, True/False/None, unary +/- on numbers, comments and
 * line breaks. Throws PyException for text Python rejects (SyntaxError past 200 nested brackets,
 * src/py/recursion-limit.ts) and PyLiteralUnsupportedError for what
 * Python accepts but this port does not model (set, bytes, complex).
 */
export function pyLiteralEval(source: string): PyValue {
  const text = source.replace(/^[ \t]+/, ''); // literal_eval lstrips spaces and tabs
  const tooDeep = pyBracketLevelError(text);
  if (tooDeep) throw tooDeep;
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

  /** Blank and comment-only lines (before the expression and after it) are no tokens to the tokenizer. */
  const skipBlankLines = (): void => {
    depth++;
    skip();
    depth--;
  };

  // Leading blank and comment-only lines; the first line holding a token must not be indented
  // (only the first line of the text was lstripped).
  for (;;) {
    const lineStart = pos;
    skip();
    if (text[pos] !== '\n' && text[pos] !== '\r') {
      if (pos > lineStart && lineStart > 0 && pos < text.length && text[lineStart] !== '#') {
        throw new PyException('IndentationError', 'unexpected indent');
      }
      break;
    }
    pos += text.startsWith('\r\n', pos) ? 2 : 1;
  }
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
  skipBlankLines();
  if (pos !== text.length) err('trailing text');
  return value;
}
