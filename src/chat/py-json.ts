// A parsed Python value as plain JSON for events and logs (ints become numbers, tuples lists, NaN/inf strings).
import { PyDict, PyTuple, type PyValue } from '../py/value.js';
import type { JsonValue } from './loop-driver.js';

export function pyToJson(v: PyValue): JsonValue {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (Array.isArray(v)) return v.map(pyToJson);
  if (v instanceof PyTuple) return v.items.map(pyToJson);
  if (v instanceof PyDict) {
    const o: { [k: string]: JsonValue } = {};
    for (const [k, val] of v.entries) o[typeof k === 'string' ? k : String(pyToJson(k))] = pyToJson(val);
    return o;
  }
  return v;
}
