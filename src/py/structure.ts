// Whole-value predicates used by the golden checks (not Python operations themselves).
import { PyDict, PyTuple, type PyValue } from './value.js';

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
