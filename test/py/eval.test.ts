// pyEval against CPython 3.11's eval() results and exception texts (values written from the language reference and
// CPython's messages, not from this code).
import { describe, expect, it } from 'vitest';
import { pyEval, PyExpressionUnsupportedError } from '../../src/py/eval.js';
import { PyException } from '../../src/py/errors.js';
import { pyRepr } from '../../src/py/repr.js';

const repr = (s: string) => pyRepr(pyEval(s));
function raises(s: string): [string, string] {
  try {
    pyEval(s);
  } catch (e) {
    if (e instanceof PyException) return [e.pyType, e.message];
    throw e;
  }
  throw new Error(`no exception for ${s}`);
}

describe('pyEval', () => {
  it('evaluates literals, containers and unary/binary arithmetic like CPython', () => {
    expect(repr('{"name": "zoom", "arguments": {"bbox_2d": [10, 20.5, -3, 1e2]}}')).toBe("{'name': 'zoom', 'arguments': {'bbox_2d': [10, 20.5, -3, 100.0]}}");
    expect(repr("('a', 1,)")).toBe("('a', 1)");
    expect(repr('(1)')).toBe('1');
    expect(repr('1, 2')).toBe('(1, 2)');
    expect(repr("{'a': True, 'b': None, 'c': False,}")).toBe("{'a': True, 'b': None, 'c': False}");
    expect(repr('-2 ** 2')).toBe('-4');
    expect(repr('2 ** -1')).toBe('0.5');
    expect(repr('7 // -2')).toBe('-4');
    expect(repr('-7 % 3')).toBe('2');
    expect(repr('1 + 2 * 3 - 4 / 2')).toBe('5.0');
    expect(repr('"a" "b" + \'c\'')).toBe("'abc'");
    expect(repr('[1] + [2]')).toBe('[1, 2]');
    expect(repr('0x10 + 0o7 + 0b1 + 1_000')).toBe('1024');
    expect(repr('--3')).toBe('3');
  });

  it("raises JSON's true/false/null as NameError", () => {
    expect(raises('{"a": null}')).toEqual(['NameError', "name 'null' is not defined"]);
    expect(raises('[true]')).toEqual(['NameError', "name 'true' is not defined"]);
  });

  it("reports SyntaxError with CPython's tokenizer and parser texts", () => {
    expect(raises('{"a": [1, 2]')).toEqual(['SyntaxError', "'{' was never closed (<string>, line 1)"]);
    expect(raises('[1, 2)')).toEqual(['SyntaxError', "closing parenthesis ')' does not match opening parenthesis '[' (<string>, line 1)"]);
    expect(raises('(1,\n2]')).toEqual(['SyntaxError', "closing parenthesis ']' does not match opening parenthesis '(' on line 1 (<string>, line 2)"]);
    expect(raises('1)')).toEqual(['SyntaxError', "unmatched ')' (<string>, line 1)"]);
    expect(raises("'abc")).toEqual(['SyntaxError', 'unterminated string literal (detected at line 1) (<string>, line 1)']);
    expect(raises('[1 2]')).toEqual(['SyntaxError', 'invalid syntax. Perhaps you forgot a comma? (<string>, line 1)']);
    expect(raises('1 2')).toEqual(['SyntaxError', 'invalid syntax (<string>, line 1)']);
    expect(raises('[' .repeat(201) + ']'.repeat(201))[1]).toMatch(/^too many nested parentheses/);
  });

  it('raises the runtime errors of the arithmetic and of dict keys', () => {
    expect(raises('1 / 0')).toEqual(['ZeroDivisionError', 'division by zero']);
    expect(raises('1.0 / 0')).toEqual(['ZeroDivisionError', 'float division by zero']);
    expect(raises('1 // 0')).toEqual(['ZeroDivisionError', 'integer division or modulo by zero']);
    expect(raises('"a" + 1')).toEqual(['TypeError', 'can only concatenate str (not "int") to str']);
    expect(raises('1 + "a"')).toEqual(['TypeError', "unsupported operand type(s) for +: 'int' and 'str'"]);
    expect(raises('-"a"')).toEqual(['TypeError', "bad operand type for unary -: 'str'"]);
    expect(raises('{[1]: 2}')).toEqual(['TypeError', "unhashable type: 'list'"]);
  });

  it('refuses what it does not model with a typed error, after earlier NameErrors and syntax checks', () => {
    expect(() => pyEval('{1, 2}')).toThrow(PyExpressionUnsupportedError);
    expect(() => pyEval('len([1])')).toThrow(PyExpressionUnsupportedError);
    expect(() => pyEval('print')).toThrow(PyExpressionUnsupportedError);
    expect(raises('[null, len(x)]')).toEqual(['NameError', "name 'null' is not defined"]);
    expect(raises('[len(x) 1]')[0]).toBe('SyntaxError');
    // A chain far deeper than the JS stack would allow recursion for: bounded, no crash.
    expect(() => pyEval('-'.repeat(100_000) + '1')).toThrow(PyException);
  });
});
