// repr(float) / str(float) of CPython (float_repr_style "short").
/**
 * Python's `str(float)` / `repr(float)`: shortest round-trip digits (same as JS), but a trailing
 * `.0` on integral values, scientific notation when the decimal exponent is < -4 or >= 16, and an
 * exponent of at least two digits (`1e-07`, `1e+16`).
 */
export function formatPyFloat(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mant, expStr] = x.toExponential().split('e') as [string, string];
  const exp = Number(expStr);
  if (exp < -4 || exp >= 16) {
    const sign = exp < 0 ? '-' : '+';
    return `${mant}e${sign}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  // In this range JS's toString never uses exponent notation.
  const s = String(x);
  return s.includes('.') ? s : `${s}.0`;
}
