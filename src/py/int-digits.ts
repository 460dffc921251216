// CPython 3.11+'s limit on int <-> decimal string conversion (sys.get_int_max_str_digits() default).
import { PyException } from './errors.js';

export const INT_MAX_STR_DIGITS = 4300;

/** The ValueError int(str) raises for a literal of `digits` decimal digits over the limit. */
export function intParseLimitError(digits: number): PyException {
  return new PyException(
    'ValueError',
    `Exceeds the limit (${INT_MAX_STR_DIGITS} digits) for integer string conversion: value has ${digits} digits; use sys.set_int_max_str_digits() to increase the limit`,
  );
}

/** str(int): decimal digits, ValueError over the limit (like CPython's long_to_decimal_string). */
export function intToStr(v: bigint): string {
  const s = v.toString();
  if (s.length - (v < 0n ? 1 : 0) > INT_MAX_STR_DIGITS) {
    throw new PyException(
      'ValueError',
      `Exceeds the limit (${INT_MAX_STR_DIGITS} digits) for integer string conversion; use sys.set_int_max_str_digits() to increase the limit`,
    );
  }
  return s;
}
