// "Type: message" of the Python exception `fn` raises, as CPython prints it; fails when nothing Python-like is raised.
import { PyException } from '../../src/py/errors.js';

export function pyError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof PyException) return `${e.pyType}: ${e.message}`;
    throw e;
  }
  throw new Error('expected a Python exception');
}
