// Expected texts are CPython 3.11's, obtained by running the authors' parse_output/zoomin
// (vllm_eval/utils.py) on the same strings.
import { describe, expect, it } from 'vitest';
import { parseToolCall, validateToolCall, type ToolValidation } from '../../src/chat/tool-call.js';
import { pyRepr } from '../../src/py/repr.js';
import { PyDict, PyTuple, type PyValue } from '../../src/py/value.js';

const IMAGES = [
  { width: 1288, height: 980 },
  { width: 644, height: 476 },
];

function args(text: string): PyValue {
  const p = parseToolCall(text);
  if (p.kind !== 'parsed') throw new Error(`unexpected ${p.kind}`);
  return p.args;
}

function run(body: string, images = IMAGES): ToolValidation<null> {
  return validateToolCall(args(`<think> x </think>\n<tool> ${body} </tool>`), images);
}

function error(body: string, images = IMAGES): [string, number | null] {
  const v = run(body, images);
  if (v.ok) throw new Error('expected a failure');
  return [v.error, v.errorAtRegion];
}

describe('parseToolCall', () => {
  it('parses a valid call with ints kept as ints', () => {
    const a = args('<tool> {"region": [{"index": 0, "bbox_2d": [10, 20.5, 30, 40]}], "query": "q"} </tool>');
    expect(pyRepr(a)).toBe("{'region': [{'index': 0, 'bbox_2d': [10, 20.5, 30, 40]}], 'query': 'q'}");
  });
  it('returns None for malformed JSON, an unclosed tag and a trailing comma', () => {
    expect(args('<tool> {"region": [], "query": "q" </tool>')).toBeNull();
    expect(args('<tool> {"region": [], "query": "x"}')).toBeNull();
    expect(args('<tool> {"region": [], "query": "x",} </tool>')).toBeNull();
    expect(args(`<tool> {"region": [], "query": 'single quotes'} </tool>`)).toBeNull();
  });
  it('takes only the first of two tool blocks', () => {
    const a = args('<tool> {"region": [], "query": "first"} </tool> <tool> {"region": [], "query": "second"} </tool>');
    expect((a as PyDict).get('query')).toBe('first');
  });
  it('strips with Python whitespace rules (U+2003 stripped)', () => {
    expect(args('<tool>\t{"region": [], "query": "q"}\u2003</tool>')).toBeInstanceOf(PyDict);
  });
  it('accepts NaN / Infinity and keeps the last duplicate key', () => {
    const a = args('<tool> {"region": [{"index": 0, "bbox_2d": [NaN, 2, Infinity, -Infinity]}], "query": 1, "query": "last"} </tool>');
    expect(pyRepr(a)).toBe("{'region': [{'index': 0, 'bbox_2d': [nan, 2, inf, -inf]}], 'query': 'last'}");
  });
  it('falls back to <answer> as JSON, then as a Python literal dict', () => {
    expect(pyRepr(args('<answer>{"region": [], "query": "a"}</answer>'))).toBe("{'region': [], 'query': 'a'}");
    const lit = args("<answer>{'region': [{'index': 0, 'bbox_2d': (1, 2, 3, 4)}], 'query': 'b'}</answer>");
    expect(pyRepr(lit)).toBe("{'region': [{'index': 0, 'bbox_2d': (1, 2, 3, 4)}], 'query': 'b'}");
    expect(args('<answer> B </answer>')).toBeNull();
    expect(args('<answer> 42 </answer>')).toBe(42n); // JSON result need not be a dict
    expect(args('no tags at all')).toBeNull();
  });
  it('reports a process error for an integer over 4300 digits inside <tool>', () => {
    const p = parseToolCall(`<tool> {"region": [], "query": ${'9'.repeat(4301)}} </tool>`);
    expect(p.kind).toBe('process_error');
  });
});

describe('validateToolCall', () => {
  it('accepts a valid call and converts the bbox with float()', () => {
    const v = run('{"region": [{"index": 1, "bbox_2d": [10, 20, 30, 40]}], "query": "q"}');
    expect(v).toEqual({
      ok: true,
      query: 'q',
      regions: [{ regionInCall: 0, index: 1, bbox: [10, 20, 30, 40], width: 644, height: 476, plan: null }],
    });
  });
  it('accepts numeric strings for coordinates and stringifies the query the Python way', () => {
    const v = run('{"region": [{"index": 0, "bbox_2d": ["1", " 2e1 ", "3_0", "40"]}], "query": 12}');
    expect(v.ok && v.regions[0]!.bbox).toEqual([1, 20, 30, 40]);
    expect(v.ok && v.query).toBe('12');
    const w = run('{"region": [], "query": ["red", "blue"]}');
    expect(w.ok && w.query).toBe("['red', 'blue']");
    const x = run('{"region": [], "query": [100.0, -0.0, 1e-05, 0.0001, 1e16, 123456789012345678]}');
    expect(x.ok && x.query).toBe('[100.0, -0.0, 1e-05, 0.0001, 1e+16, 123456789012345678]');
  });
  it('reports missing keys in the reference order', () => {
    expect(error('{"query": "q"}')).toEqual(["Missing 'region' in tool_args", null]);
    expect(error('{"region": []}')).toEqual(["Missing 'query' in tool_args", null]);
    expect(error('{"region": [{"bbox_2d": [1,2,3,4]}], "query": "q"}')).toEqual([
      "Region missing 'index' or 'bbox_2d': {'bbox_2d': [1, 2, 3, 4]}",
      0,
    ]);
    expect(validateToolCall(null, IMAGES)).toEqual({ ok: false, error: 'tool_args must be a dictionary', errorAtRegion: null });
  });
  it('raises TypeError texts for a string or null index', () => {
    expect(error('{"region": [{"index": "0", "bbox_2d": [1,2,3,4]}], "query": "q"}')).toEqual([
      "'<=' not supported between instances of 'int' and 'str'",
      0,
    ]);
    expect(error('{"region": [{"index": null, "bbox_2d": [1,2,3,4]}], "query": "q"}')[0]).toBe(
      "'<=' not supported between instances of 'int' and 'NoneType'",
    );
  });
  it('treats a bool index as 0/1 printed as True/False, and a float index as a list-index error', () => {
    expect(error('{"region": [{"index": true, "bbox_2d": [1, 2, 3, 4]}], "query": "q"}', [IMAGES[0]!])[0]).toBe(
      'Image index True out of range [0, 0]',
    );
    const v = run('{"region": [{"index": true, "bbox_2d": [1, 2, 3, 4]}], "query": "q"}');
    expect(v.ok && v.regions[0]!.index).toBe(1);
    expect(error('{"region": [{"index": 0.0, "bbox_2d": [1, 2, 3, 4]}], "query": "q"}')[0]).toBe(
      'list indices must be integers or slices, not float',
    );
    expect(error('{"region": [{"index": NaN, "bbox_2d": [1, 2, 3, 4]}], "query": "q"}')[0]).toBe(
      'Image index nan out of range [0, 1]',
    );
  });
  it('rejects out-of-range indices and boxes without clamping, failing the whole call', () => {
    expect(error('{"region": [{"index": 5, "bbox_2d": [1, 2, 3, 4]}], "query": "q"}')[0]).toBe('Image index 5 out of range [0, 1]');
    expect(error('{"region": [{"index": -1, "bbox_2d": [1, 2, 3, 4]}], "query": "q"}')[0]).toBe('Image index -1 out of range [0, 1]');
    expect(error('{"region": [{"index": 0, "bbox_2d": [1, 2, 1300, 4]}], "query": "q"}')).toEqual([
      'x-coordinates invalid: 1.0, 1300.0 for width 1288',
      0,
    ]);
    expect(error('{"region": [{"index": 1, "bbox_2d": [1, -5, 3, 4]}], "query": "q"}')[0]).toBe('y-coordinates invalid: -5.0, 4.0 for height 476');
    expect(error('{"region": [{"index": 0, "bbox_2d": [1, 2, 1e16, 4]}], "query": "q"}')[0]).toBe('x-coordinates invalid: 1.0, 1e+16 for width 1288');
    expect(error('{"region": [{"index": 0, "bbox_2d": [5, 5, 5, 9]}], "query": "q"}')[0]).toBe('x-coordinates invalid: 5.0, 5.0 for width 1288');
    expect(error('{"region": [{"index": 0, "bbox_2d": [1, 2, 3, 4]}, {"index": 0, "bbox_2d": [1, 2, 3]}], "query": "q"}')).toEqual([
      'Invalid bbox format: [1, 2, 3]',
      1,
    ]);
  });
  it('prints NaN and Infinity coordinates like Python', () => {
    expect(error('{"region": [{"index": 0, "bbox_2d": [NaN, 2, 3, 4]}], "query": "q"}')[0]).toBe('x-coordinates invalid: nan, 3.0 for width 1288');
    expect(error('{"region": [{"index": 0, "bbox_2d": [1, 2, Infinity, 4]}], "query": "q"}')[0]).toBe('x-coordinates invalid: 1.0, inf for width 1288');
  });
  it('reports float() failures', () => {
    expect(error('{"region": [{"index": 0, "bbox_2d": ["left", 2, 3, 4]}], "query": "q"}')[0]).toBe("could not convert string to float: 'left'");
    expect(error('{"region": [{"index": 0, "bbox_2d": [1, 2, null, 4]}], "query": "q"}')[0]).toBe(
      "float() argument must be a string or a real number, not 'NoneType'",
    );
    expect(error('{"region": [{"index": 0, "bbox_2d": {"a": 1}}], "query": "q"}')[0]).toBe("Invalid bbox format: {'a': 1}");
  });
  it('passes an empty region list (and an empty string) with zero regions', () => {
    expect(run('{"region": [], "query": "nothing"}')).toEqual({ ok: true, query: 'nothing', regions: [] });
    expect(run('{"region": "", "query": "q"}')).toEqual({ ok: true, query: 'q', regions: [] });
  });
  it('iterates a non-list region the Python way', () => {
    expect(error('{"region": "ab", "query": "q"}')).toEqual(['Invalid region format: a', 0]);
    expect(error('{"region": {"index": 0, "bbox_2d": [1,2,3,4]}, "query": "q"}')).toEqual(['Invalid region format: index', 0]);
    expect(error('{"region": 5, "query": "q"}')).toEqual(["'int' object is not iterable", null]);
    expect(error('{"region": null, "query": "q"}')).toEqual(["'NoneType' object is not iterable", null]);
    expect(error('{"region": [7], "query": "q"}')).toEqual(['Invalid region format: 7', 0]);
    expect(error('{"region": ["0, 800, 150, 950, 300"], "query": "q"}')[0]).toBe('Invalid region format: 0, 800, 150, 950, 300');
  });
  it('accepts a tuple bbox from the literal fallback', () => {
    const d = new PyDict();
    d.set('region', [PyDict.fromObject({ index: 0n, bbox_2d: new PyTuple([1n, 2n, 3n, 4n]) })]);
    d.set('query', 'b');
    const v = validateToolCall(d, IMAGES);
    expect(v.ok && v.regions[0]!.bbox).toEqual([1, 2, 3, 4]);
  });
});

describe('deeply nested model output (issue 11, defect 1)', () => {
  it('drops a <tool> whose JSON nests past the recursion limit, like the reference driver', () => {
    const p = parseToolCall(`<tool>${'['.repeat(3400)}${']'.repeat(3400)}</tool>`);
    expect(p).toEqual({
      kind: 'process_error',
      message: 'maximum recursion depth exceeded while decoding a JSON array from a unicode string',
    });
    // Below the bound it is an ordinary parse (a list: not a dictionary).
    expect(args(`<tool>${'['.repeat(900)}${']'.repeat(900)}</tool>`)).toBeInstanceOf(Array);
  });
  it('reads an <answer> nested past the bounds as None', () => {
    expect(args(`<answer>${'['.repeat(3400)}${']'.repeat(3400)}</answer>`)).toBeNull();
    expect(args(`<answer>${'('.repeat(3100)}1${')'.repeat(3100)}</answer>`)).toBeNull();
    // 1500 levels: json.loads raises RecursionError (not a decode error), so there is no literal_eval fallback.
    expect(args(`<answer>${'{"a":'.repeat(1500)}1${'}'.repeat(1500)}</answer>`)).toBeNull();
    expect(pyRepr(args(`<answer>{'a': ${'('.repeat(199)}1${')'.repeat(199)}}</answer>`))).toBe("{'a': 1}");
  });
});
