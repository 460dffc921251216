// Nesting bounds of json.loads and ast.literal_eval. Expected values were measured with CPython 3.11.7
// (the reference's python3): from module level json.loads parses 995 nested arrays and raises
// RecursionError at the 996th (the bound moves by one per caller frame: src/py/recursion-limit.ts);
// ast.literal_eval raises SyntaxError 'too many nested parentheses' at the 201st bracket.
import { describe, expect, it } from 'vitest';
import { PyJsonDecodeError } from '../../src/py/errors.js';
import { pyJsonLoads } from '../../src/py/json-loads.js';
import { pyLiteralEval } from '../../src/py/literal-eval.js';
import { JSON_MAX_DEPTH } from '../../src/py/recursion-limit.js';
import { pyRepr } from '../../src/py/repr.js';
import { pyError } from '../helpers/py-error.js';

const arrays = (n: number): string => '['.repeat(n) + ']'.repeat(n);
const objects = (n: number): string => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
/** json.loads called from module level: 4 Python frames (<module>, loads, decode, raw_decode). */
const MODULE_LEVEL = { maxDepth: 995 };
const ARRAY_ERROR = 'RecursionError: maximum recursion depth exceeded while decoding a JSON array from a unicode string';
const OBJECT_ERROR = 'RecursionError: maximum recursion depth exceeded while decoding a JSON object from a unicode string';

describe('json.loads nesting', () => {
  it('accepts and rejects at the depth CPython does when called from module level', () => {
    expect(pyJsonLoads(arrays(995), MODULE_LEVEL)).toBeInstanceOf(Array);
    expect(pyError(() => pyJsonLoads(arrays(996), MODULE_LEVEL))).toBe(ARRAY_ERROR);
    expect(pyRepr(pyJsonLoads(objects(995), MODULE_LEVEL)).length).toBe(995 * 7 + 1);
    expect(pyError(() => pyJsonLoads(objects(996), MODULE_LEVEL))).toBe(OBJECT_ERROR);
    // Each bracket costs one level, arrays and objects alike: 600 objects + 200 x `[{` is 1000 levels,
    // and the 996th is an object.
    const mixed = '{"a":'.repeat(600) + '[{"b":'.repeat(200) + '1' + '}]'.repeat(200) + '}'.repeat(600);
    expect(pyError(() => pyJsonLoads(mixed, MODULE_LEVEL))).toBe(OBJECT_ERROR);
  });
  it("uses the reference driver's bound by default (7 frames: 992 levels)", () => {
    expect(JSON_MAX_DEPTH).toBe(992);
    expect(pyJsonLoads(arrays(992))).toBeInstanceOf(Array);
    expect(pyError(() => pyJsonLoads(arrays(993)))).toBe(ARRAY_ERROR);
  });
  it('raises where CPython raises: a deep bracket before a syntax error, a syntax error before depth', () => {
    expect(pyError(() => pyJsonLoads('['.repeat(2000) + 'x'))).toBe(ARRAY_ERROR);
    expect(() => pyJsonLoads('[1,,' + '['.repeat(2000))).toThrow(PyJsonDecodeError);
  });
  it('never overflows the JS stack, however deep', () => {
    expect(pyError(() => pyJsonLoads(arrays(200_000)))).toBe(ARRAY_ERROR);
    expect(pyError(() => pyJsonLoads('{"a":'.repeat(200_000)))).toBe(OBJECT_ERROR);
  });
});

describe('ast.literal_eval nesting', () => {
  it('evaluates 200 nested brackets and raises SyntaxError at the 201st', () => {
    expect(pyLiteralEval('('.repeat(200) + '1' + ')'.repeat(200))).toBe(1n);
    expect(pyRepr(pyLiteralEval('[('.repeat(100) + ')]'.repeat(100))).length).toBe(202); // `([…])` is a list
    for (const deep of ['('.repeat(201) + '1' + ')'.repeat(201), '{1: '.repeat(201) + '1' + '}'.repeat(201)]) {
      expect(pyError(() => pyLiteralEval(deep))).toBe('SyntaxError: too many nested parentheses (<unknown>, line 1)');
    }
    expect(pyError(() => pyLiteralEval('(\n'.repeat(201) + '1' + ')'.repeat(201)))).toBe(
      'SyntaxError: too many nested parentheses (<unknown>, line 201)',
    );
  });
  it('does not count brackets inside strings and comments', () => {
    expect(pyRepr(pyLiteralEval('["(((", ' + '('.repeat(199) + '1' + ')'.repeat(199) + ']'))).toBe("['(((', 1]");
    expect(pyLiteralEval('# ((((\n' + '['.repeat(200) + ']'.repeat(200))).toBeInstanceOf(Array);
    expect(pyError(() => pyLiteralEval('"""\n(\n""" + ' + '('.repeat(201)))).toBe(
      'SyntaxError: too many nested parentheses (<unknown>, line 3)',
    );
  });
  it('never overflows the JS stack, however deep', () => {
    expect(pyError(() => pyLiteralEval('('.repeat(200_000)))).toMatch(/^SyntaxError: too many nested parentheses/);
  });
});
