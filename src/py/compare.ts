// Python's `<` / `<=` between the values a tool call can hold, and iteration (`for x in v`).
import { PyException } from './errors.js';
import { pyCompareNumbers } from './number-compare.js';
import { PyDict, PyTuple, isPyNumeric, pyTypeName, type PyValue } from './value.js';

/** `for x in v`: a list or tuple by element, a str by character, a dict by key. */
export function pyIterate(v: PyValue): PyValue[] {
  if (Array.isArray(v)) return v;
  if (v instanceof PyTuple) return [...v.items];
  if (v instanceof PyDict) return v.keys();
  if (typeof v === 'string') return [...v];
  throw new PyException('TypeError', `'${pyTypeName(v)}' object is not iterable`);
}

function compare(op: '<' | '<=', a: PyValue, b: PyValue): boolean {
  if (isPyNumeric(a) && isPyNumeric(b)) {
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
