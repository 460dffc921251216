// The Python operations tool-call code applies to parsed values: `v[key]` (dict lookup, list/tuple/str indexing
// with negative indices), unpacking into n names, and `len()`, each with CPython's exception type and text.
import { PyException } from './errors.js';
import { pyRepr } from './repr.js';
import { PyDict, PyTuple, pyTypeName, type PyValue } from './value.js';

function isHashable(v: PyValue): boolean {
  if (Array.isArray(v) || v instanceof PyDict) return false;
  return v instanceof PyTuple ? v.items.every(isHashable) : true;
}

/** v[key]. */
export function pyGetItem(v: PyValue, key: PyValue): PyValue {
  if (v instanceof PyDict) {
    if (!isHashable(key)) throw new PyException('TypeError', `unhashable type: '${pyTypeName(key)}'`);
    if (!v.has(key)) throw new PyException('KeyError', pyRepr(key));
    return v.get(key)!;
  }
  const seq = Array.isArray(v) ? v : v instanceof PyTuple ? v.items : typeof v === 'string' ? [...v] : null;
  if (seq === null) throw new PyException('TypeError', `'${pyTypeName(v)}' object is not subscriptable`);
  const kind = pyTypeName(v);
  if (typeof key !== 'bigint' && typeof key !== 'boolean') {
    if (typeof v === 'string') throw new PyException('TypeError', `string indices must be integers, not '${pyTypeName(key)}'`);
    throw new PyException('TypeError', `${kind} indices must be integers or slices, not ${pyTypeName(key)}`);
  }
  let i = typeof key === 'boolean' ? (key ? 1n : 0n) : key;
  if (i < 0n) i += BigInt(seq.length);
  if (i < 0n || i >= BigInt(seq.length)) {
    throw new PyException('IndexError', `${kind === 'str' ? 'string' : kind} index out of range`);
  }
  return seq[Number(i)]!;
}

/** `a, b, … = v` into n names. */
export function pyUnpack(v: PyValue, n: number): PyValue[] {
  let items: PyValue[];
  if (Array.isArray(v)) items = v;
  else if (v instanceof PyTuple) items = [...v.items];
  else if (v instanceof PyDict) items = v.keys();
  else if (typeof v === 'string') items = [...v];
  else throw new PyException('TypeError', `cannot unpack non-iterable ${pyTypeName(v)} object`);
  if (items.length > n) throw new PyException('ValueError', `too many values to unpack (expected ${n})`);
  if (items.length < n) throw new PyException('ValueError', `not enough values to unpack (expected ${n}, got ${items.length})`);
  return items;
}
