// Exact three-way comparison of Python int/float/bool (CPython compares int and float exactly).

/** Exact three-way comparison of int/float/bool (NaN compares unordered -> NaN). */
export function pyCompareNumbers(a: boolean | bigint | number, b: boolean | bigint | number): number {
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
