// Expected values are CPython 3.11's documented/observed behaviour (checked against python3).
import { describe, expect, it } from 'vitest';
import { pyIterate, pyLess, pyLessEqual } from '../../src/py/compare.js';
import { PyException, PyJsonDecodeError, PyLiteralUnsupportedError } from '../../src/py/errors.js';
import { pyFloat } from '../../src/py/float.js';
import { pyJsonLoads } from '../../src/py/json-loads.js';
import { pyLiteralEval } from '../../src/py/literal-eval.js';
import { pyRepr, pyStr } from '../../src/py/repr.js';
import { PyDict, PyTuple, pyTypeName } from '../../src/py/value.js';
import { pyStrip } from '../../src/py/whitespace.js';
import { pyError } from '../helpers/py-error.js';

describe('str() / repr()', () => {
  it('formats floats like Python', () => {
    const cases: [number, string][] = [
      [1e16, '1e+16'],
      [100, '100.0'],
      [1e22, '1e+22'],
      [1.5e-7, '1.5e-07'],
      [0.1 + 0.2, '0.30000000000000004'],
      [-1e-5, '-1e-05'],
      [0.0001, '0.0001'],
      [2.5e15, '2500000000000000.0'],
      [123456789.125, '123456789.125'],
      [-0, '-0.0'],
      [Infinity, 'inf'],
      [-Infinity, '-inf'],
      [NaN, 'nan'],
    ];
    for (const [x, s] of cases) expect(pyStr(x)).toBe(s);
  });
  it('keeps int, float and bool apart', () => {
    expect(pyStr(1n)).toBe('1');
    expect(pyStr(1)).toBe('1.0');
    expect(pyStr(true)).toBe('True');
    expect(pyStr(null)).toBe('None');
    expect(pyStr(2n ** 70n)).toBe('1180591620717411303424');
  });
  it('reprs strings with Python quote choice and escapes', () => {
    expect(pyRepr("it's")).toBe('"it\'s"');
    expect(pyRepr('say "hi"')).toBe('\'say "hi"\'');
    expect(pyRepr('e\'f"g')).toBe("'e\\'f\"g'");
    expect(pyRepr('\n\t\x00\x7f\xa0é\u2028😀\ud800')).toBe("'\\n\\t\\x00\\x7f\\xa0é\\u2028😀\\ud800'");
    expect(pyRepr('back\\slash')).toBe("'back\\\\slash'");
  });
  it('reprs nested containers; str() of a str is the str itself', () => {
    const d = PyDict.fromObject({
      a: "it's",
      b: 'say "hi"',
      c: [1n, 2, true, null, new PyTuple([1n]), new PyTuple([])],
    });
    expect(pyRepr(d)).toBe('{\'a\': "it\'s", \'b\': \'say "hi"\', \'c\': [1, 2.0, True, None, (1,), ()]}');
    expect(pyStr(['red', 'blue'])).toBe("['red', 'blue']");
    expect(pyStr('plain')).toBe('plain');
  });
  it('refuses to print ints over 4300 digits', () => {
    expect(pyError(() => pyStr(10n ** 4300n))).toMatch(/^ValueError: Exceeds the limit \(4300 digits\)/);
  });
  it('names types', () => {
    expect([null, true, 1n, 1, 's', [], new PyTuple([]), new PyDict()].map(pyTypeName)).toEqual([
      'NoneType', 'bool', 'int', 'float', 'str', 'list', 'tuple', 'dict',
    ]);
  });
});

describe('json.loads', () => {
  it('parses 1 as int and 1.0 as float, big ints exactly, -0 as int 0', () => {
    const v = pyJsonLoads('[-0, -0.0, 1E400, 1.0, 1, 1180591620717411303424, "\\ud83d\\ude00"]');
    expect(pyRepr(v)).toBe("[0, -0.0, inf, 1.0, 1, 1180591620717411303424, '😀']");
  });
  it('keeps the first position and the last value of duplicate keys', () => {
    expect(pyRepr(pyJsonLoads(' {"a": 1, "b": 2, "a": 3} '))).toBe("{'a': 3, 'b': 2}");
  });
  it('accepts NaN, Infinity and -Infinity but not nan or -NaN', () => {
    expect(pyRepr(pyJsonLoads('[NaN, Infinity, -Infinity]'))).toBe('[nan, inf, -inf]');
    expect(() => pyJsonLoads('nan')).toThrow(PyJsonDecodeError);
    expect(() => pyJsonLoads('-NaN')).toThrow(PyJsonDecodeError);
  });
  it('rejects what Python rejects', () => {
    for (const t of ['[1,]', "{'a':1}", '01', '1.', '.5', '"\x01"', '\ufeff1', '[1] x', 'tru', '"\\q"', '{"a" 1}', '']) {
      expect(() => pyJsonLoads(t), JSON.stringify(t)).toThrow(PyJsonDecodeError);
    }
  });
  it('raises a ValueError that is not a decode error for an int over 4300 digits', () => {
    let caught: unknown;
    try {
      pyJsonLoads('1'.repeat(4301));
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(PyException);
    expect(caught).not.toBeInstanceOf(PyJsonDecodeError);
    expect(pyJsonLoads('1'.repeat(4300))).toBe(BigInt('1'.repeat(4300)));
  });
});

describe('float()', () => {
  it('converts ints, bools and numeric strings', () => {
    expect(pyFloat(3n)).toBe(3);
    expect(pyFloat(true)).toBe(1);
    expect(pyFloat(2n ** 53n + 1n)).toBe(9007199254740992);
    const ok: [string, number][] = [
      [' 1_000.5 ', 1000.5],
      ['1e1_0', 1e10],
      ['-inf', -Infinity],
      ['Infinity', Infinity],
      ['.5', 0.5],
      ['5.', 5],
      ['\u0663\u0664', 34], // Arabic-Indic digits
      ['\u20031\u3000', 1],
    ];
    for (const [s, x] of ok) expect(pyFloat(s), s).toBe(x);
    expect(pyFloat('+nAn')).toBeNaN();
  });
  it('raises ValueError with the repr of the original string', () => {
    for (const s of ['1__0', '_1', '1_', '1_.5', 'in f', '0x10', '', 'left', ' left ']) {
      expect(pyError(() => pyFloat(s))).toBe(`ValueError: could not convert string to float: ${pyRepr(s)}`);
    }
    expect(pyError(() => pyFloat('left'))).toBe("ValueError: could not convert string to float: 'left'");
  });
  it('raises TypeError / OverflowError like Python', () => {
    expect(pyError(() => pyFloat(null))).toBe("TypeError: float() argument must be a string or a real number, not 'NoneType'");
    expect(pyError(() => pyFloat([]))).toBe("TypeError: float() argument must be a string or a real number, not 'list'");
    expect(pyError(() => pyFloat(10n ** 400n))).toBe('OverflowError: int too large to convert to float');
  });
});

describe('iteration and comparison', () => {
  it('iterates lists, strings by character, dicts by key', () => {
    expect(pyIterate('ab')).toEqual(['a', 'b']);
    expect(pyIterate(PyDict.fromObject({ index: 0n, bbox_2d: [] }))).toEqual(['index', 'bbox_2d']);
    expect(pyError(() => pyIterate(5n))).toBe("TypeError: 'int' object is not iterable");
    expect(pyError(() => pyIterate(1.5))).toBe("TypeError: 'float' object is not iterable");
    expect(pyError(() => pyIterate(false))).toBe("TypeError: 'bool' object is not iterable");
  });
  it('compares int and float exactly and refuses mixed types', () => {
    expect(pyLess(2n ** 53n + 1n, 9007199254740992)).toBe(false);
    expect(pyLessEqual(2n ** 53n + 1n, 9007199254740992)).toBe(false);
    expect(pyLess(0n, 0.5)).toBe(true);
    expect(pyLessEqual(0n, NaN)).toBe(false);
    expect(pyLess(true, 2n)).toBe(true);
    expect(pyError(() => pyLessEqual(0n, [1n]))).toBe("TypeError: '<=' not supported between instances of 'int' and 'list'");
    expect(pyError(() => pyLess('a', 1n))).toBe("TypeError: '<' not supported between instances of 'str' and 'int'");
  });
  it('strips Python whitespace, not JS whitespace', () => {
    expect(pyStrip('\x1c a \x85')).toBe('a');
    expect(pyStrip('\ufeffa')).toBe('\ufeffa');
  });
});

describe('ast.literal_eval subset', () => {
  it('parses dicts with tuples, escapes, concatenation, signs and comments', () => {
    const v = pyLiteralEval("{'a': (1,), \"b\": [0x1F, -2.5, +3, 1_000], 'c': 'x' 'y\\n', 'd': r'\\d', # note\n 'e': None,}");
    expect(pyRepr(v)).toBe("{'a': (1,), 'b': [31, -2.5, 3, 1000], 'c': 'xy\\n', 'd': '\\\\d', 'e': None}");
  });
  it('rejects non-literals and reports constructs this port does not model', () => {
    expect(() => pyLiteralEval('B')).toThrow(PyException);
    expect(() => pyLiteralEval('{"a": 01}')).toThrow(PyException);
    expect(() => pyLiteralEval('{1, 2}')).toThrow(PyLiteralUnsupportedError);
    expect(() => pyLiteralEval("b'x'")).toThrow(PyLiteralUnsupportedError);
    expect(() => pyLiteralEval('1+2j')).toThrow(PyLiteralUnsupportedError);
  });
});
