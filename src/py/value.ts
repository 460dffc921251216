// The Python value model shared by the ports of json.loads, ast.literal_eval, repr() and friends.
import { pyCompareNumbers } from './number-compare.js';

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

export function isPyNumeric(v: PyValue): v is boolean | bigint | number {
  return typeof v === 'boolean' || typeof v === 'bigint' || typeof v === 'number';
}

/** Dict-key equality (hash + ==) for hashable values. Tuples nest at most 200 deep (literal_eval's bound). */
function pyKeyEquals(a: PyValue, b: PyValue): boolean {
  if (isPyNumeric(a) && isPyNumeric(b)) return pyCompareNumbers(a, b) === 0;
  if (typeof a === 'string' || typeof b === 'string' || a === null || b === null) return a === b;
  if (a instanceof PyTuple && b instanceof PyTuple) {
    return a.items.length === b.items.length && a.items.every((x, i) => pyKeyEquals(x, b.items[i]!));
  }
  return false;
}
