// Bounded rendering and equality of untrusted JSON values: JSON.stringify's text when short, never a stack overflow.
import { describe, expect, it } from 'vitest';
import { jsonEqual, jsonSnippet } from '../../src/util/json-bounded.js';

/** A list nested `depth` levels around 0, built from text so the test itself does not recurse. */
const deep = (depth: number): unknown => JSON.parse('['.repeat(depth) + '0' + ']'.repeat(depth));

describe('jsonSnippet', () => {
  it('is JSON.stringify for short values', () => {
    for (const v of [null, true, 0, -1.5, 'a"b\u2028', [], {}, [1, [2, { a: 'x', b: null }]], { 'k"': [true, false] }]) {
      expect(jsonSnippet(v)).toBe(JSON.stringify(v));
    }
    expect(jsonSnippet(undefined)).toBe('undefined');
  });

  it('cuts long values after maxChars with an ellipsis', () => {
    const long = Array.from({ length: 50_000 }, (_, i) => i);
    const s = jsonSnippet(long, 40);
    expect(s).toBe(JSON.stringify(long).slice(0, 40) + '…');
  });

  it('renders values nested past the JS stack (JSON.stringify throws RangeError there)', () => {
    const v = deep(200_000);
    expect(() => JSON.stringify(v)).toThrow(RangeError);
    expect(jsonSnippet(v, 10)).toBe('[[[[[[[[[[…');
  });
});

describe('jsonEqual', () => {
  it('compares like the JSON texts would', () => {
    expect(jsonEqual([1, { a: [2, 'x'] }], [1, { a: [2, 'x'] }])).toBe(true);
    expect(jsonEqual([1, 2], [1, 2, 3])).toBe(false);
    expect(jsonEqual({ a: 1, b: 2 }, { b: 2, a: 1 })).toBe(false); // member order is part of the text
    expect(jsonEqual({ a: 1 }, [1])).toBe(false);
    expect(jsonEqual(null, {})).toBe(false);
    expect(jsonEqual('1', 1)).toBe(false);
  });

  it('handles values nested past the JS stack', () => {
    expect(jsonEqual(deep(200_000), deep(200_000))).toBe(true);
    expect(jsonEqual(deep(200_000), deep(199_999))).toBe(false);
  });
});
