// Python's float(x) for the values json.loads / literal_eval produce.
import { PyException } from './errors.js';
import { pyReprStr } from './repr.js';
import { pyTypeName, type PyValue } from './value.js';
import { PY_WHITESPACE } from './whitespace.js';

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
