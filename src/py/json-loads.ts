// Python's json.loads for a str argument (the C scanner), iterative so nesting never touches the JS stack.
import { PyException, PyJsonDecodeError } from './errors.js';
import { INT_MAX_STR_DIGITS, intParseLimitError } from './int-digits.js';
import { JSON_MAX_DEPTH } from './recursion-limit.js';
import { PyDict, type PyValue } from './value.js';

const JSON_WS = ' \t\n\r';
const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/y;
const WORDS = [
  ['null', null],
  ['true', true],
  ['false', false],
  ['NaN', NaN],
  ['Infinity', Infinity],
  ['-Infinity', -Infinity],
] as const;

export interface JsonLoadsOptions {
  /** Deepest `[`/`{` nesting accepted; the next level raises RecursionError (src/py/recursion-limit.ts). */
  maxDepth?: number;
}

/** An open container while its elements are being scanned. */
type Open = { list: PyValue[] } | { dict: PyDict; key: string };

/**
 * Python's json.loads(text) for a str argument (C scanner, strict=True): also accepts NaN,
 * Infinity and -Infinity; duplicate keys keep the first position and the last value; integers
 * become bigint, numbers with a fraction or exponent become float. Throws PyJsonDecodeError for
 * malformed text, PyException('ValueError') for an integer over 4300 digits and
 * PyException('RecursionError') at the bracket that nests deeper than `maxDepth` (neither is a
 * decode error in Python), each at the point of the text where CPython raises it.
 */
export function pyJsonLoads(text: string, options: JsonLoadsOptions = {}): PyValue {
  const maxDepth = options.maxDepth ?? JSON_MAX_DEPTH;
  if (text.startsWith('\ufeff')) throw new PyJsonDecodeError('Unexpected UTF-8 BOM (decode using utf-8-sig)', 0);
  let pos = 0;
  const skipWs = (): void => {
    while (pos < text.length && JSON_WS.includes(text[pos]!)) pos++;
  };
  const fail = (msg: string, at = pos): never => {
    throw new PyJsonDecodeError(msg, at);
  };
  const enter = (what: 'array' | 'object'): void => {
    if (stack.length + 1 > maxDepth) {
      throw new PyException('RecursionError', `maximum recursion depth exceeded while decoding a JSON ${what} from a unicode string`);
    }
  };

  const parseString = (): string => {
    // pos is just after the opening quote
    const start = pos - 1;
    let out = '';
    for (;;) {
      if (pos >= text.length) fail('Unterminated string starting at', start);
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
          case '\\':
          case '/':
            out += e;
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

  /** A dict key with its ':' (pos at the opening quote); leaves pos at the value. */
  const parseKey = (): string => {
    if (text[pos] !== '"') fail('Expecting property name enclosed in double quotes');
    pos++;
    const key = parseString();
    skipWs();
    if (text[pos] !== ':') fail("Expecting ':' delimiter");
    pos++;
    skipWs();
    return key;
  };

  const parseScalar = (): PyValue => {
    if (text[pos] === '"') {
      pos++;
      return parseString();
    }
    for (const [word, value] of WORDS) {
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
      if (digits > INT_MAX_STR_DIGITS) throw intParseLimitError(digits);
      return BigInt(m[0]);
    }
    return Number(m[0]); // correctly rounded, overflow -> inf, like float()
  };

  const stack: Open[] = [];
  skipWs();
  for (;;) {
    // Scan one value at pos: a scalar completes it; an opening bracket either completes an empty
    // container or pushes it and scans its first element.
    let value: PyValue;
    const ch = text[pos];
    if (ch === '[') {
      enter('array');
      pos++;
      skipWs();
      if (text[pos] !== ']') {
        stack.push({ list: [] });
        continue;
      }
      pos++;
      value = [];
    } else if (ch === '{') {
      enter('object');
      pos++;
      skipWs();
      if (text[pos] !== '}') {
        stack.push({ dict: new PyDict(), key: parseKey() });
        continue;
      }
      pos++;
      value = new PyDict();
    } else {
      value = parseScalar();
    }
    // Hand the completed value to the open containers, closing every one that ends here.
    for (;;) {
      const open = stack[stack.length - 1];
      if (open === undefined) {
        skipWs();
        if (pos !== text.length) fail('Extra data');
        return value;
      }
      skipWs();
      if ('list' in open) {
        open.list.push(value);
        if (text[pos] === ']') {
          pos++;
          value = open.list;
          stack.pop();
          continue;
        }
      } else {
        open.dict.set(open.key, value);
        if (text[pos] === '}') {
          pos++;
          value = open.dict;
          stack.pop();
          continue;
        }
      }
      if (text[pos] !== ',') fail("Expecting ',' delimiter");
      pos++;
      skipWs();
      if (!('list' in open)) open.key = parseKey();
      break;
    }
  }
}
