// Tool-call parsing and validation of the canonical driver (vllm_eval/utils.py: parse_output and the
// checks at the top of zoomin), with CPython's exception texts. Pure: no pixels, no platform.

import { pyIterate, pyLess, pyLessEqual } from '../py/compare.js';
import { PyException, PyJsonDecodeError, PyLiteralUnsupportedError } from '../py/errors.js';
import { pyFloat } from '../py/float.js';
import { pyJsonLoads } from '../py/json-loads.js';
import { pyLiteralEval } from '../py/literal-eval.js';
import { pyStr } from '../py/repr.js';
import { PyDict, PyTuple, type PyValue } from '../py/value.js';
import { pyStrip } from '../py/whitespace.js';

export type ToolCallParse =
  /** `args` is what parse_output returned (null = Python None, also for any parse failure). */
  | { kind: 'parsed'; args: PyValue; note: string | null }
  /**
   * json.loads raised something other than JSONDecodeError inside `<tool>` (e.g. an integer over
   * 4300 digits): process_single_response drops the response entirely.
   */
  | { kind: 'process_error'; message: string };

const TOOL_RE = /<tool>([\s\S]*?)<\/tool>/;
const ANSWER_RE = /<answer>([\s\S]*?)<\/answer>/;

/** parse_output(text): the first `<tool>…</tool>` as JSON, else the first `<answer>…</answer>`. */
export function parseToolCall(responseText: string): ToolCallParse {
  if (responseText.includes('<tool>')) {
    const m = TOOL_RE.exec(responseText);
    if (!m) return { kind: 'parsed', args: null, note: null };
    try {
      return { kind: 'parsed', args: pyJsonLoads(pyStrip(m[1]!)), note: null };
    } catch (e) {
      if (e instanceof PyJsonDecodeError) return { kind: 'parsed', args: null, note: null };
      if (e instanceof PyException) return { kind: 'process_error', message: e.message };
      throw e;
    }
  }
  const m = ANSWER_RE.exec(responseText);
  if (!m) return { kind: 'parsed', args: null, note: null };
  const body = pyStrip(m[1]!);
  try {
    return { kind: 'parsed', args: pyJsonLoads(body), note: null };
  } catch (e) {
    // JSONDecodeError falls back to ast.literal_eval; any other exception is caught by the
    // outer `except Exception` and yields None.
    if (!(e instanceof PyJsonDecodeError)) {
      if (e instanceof PyException) return { kind: 'parsed', args: null, note: null };
      throw e;
    }
  }
  try {
    const v = pyLiteralEval(body);
    return { kind: 'parsed', args: v instanceof PyDict ? v : null, note: null };
  } catch (e) {
    if (e instanceof PyException) return { kind: 'parsed', args: null, note: null };
    if (e instanceof PyLiteralUnsupportedError) return { kind: 'parsed', args: null, note: e.message };
    throw e;
  }
}

/** One region that passed validation. `bbox` holds the float() values. */
export interface ValidRegion {
  /** Position in the call's `region` list. */
  regionInCall: number;
  index: number;
  bbox: [number, number, number, number];
  /** Processed (displayed) size of image `index`: the bbox coordinate space. */
  width: number;
  height: number;
}

export type ToolValidation<P> =
  | { ok: true; query: string; regions: (ValidRegion & { plan: P })[] }
  | { ok: false; error: string; errorAtRegion: number | null };

/**
 * The validation part of zoomin(), in the reference's order, every failure ending the whole call.
 * `plan` (optional) runs right after each region passes, like the crop code in the reference's
 * loop body: a PyException it throws fails the call at that region, so error order is preserved.
 */
export function validateToolCall<P = null>(
  args: PyValue,
  images: readonly { width: number; height: number }[],
  plan?: (region: ValidRegion) => P,
): ToolValidation<P> {
  let at: number | null = null;
  try {
    if (!(args instanceof PyDict)) throw new PyException('ValueError', 'tool_args must be a dictionary');
    if (!args.has('region')) throw new PyException('ValueError', "Missing 'region' in tool_args");
    if (!args.has('query')) throw new PyException('ValueError', "Missing 'query' in tool_args");
    const query = pyStr(args.get('query')!);
    const regions: (ValidRegion & { plan: P })[] = [];
    const elements = pyIterate(args.get('region')!);
    for (let i = 0; i < elements.length; i++) {
      at = i;
      const region = elements[i]!;
      if (!(region instanceof PyDict)) throw new PyException('ValueError', `Invalid region format: ${pyStr(region)}`);
      if (!region.has('index') || !region.has('bbox_2d')) {
        throw new PyException('ValueError', `Region missing 'index' or 'bbox_2d': ${pyStr(region)}`);
      }
      const idx = region.get('index')!;
      const bbox = region.get('bbox_2d')!;
      const items = Array.isArray(bbox) ? bbox : bbox instanceof PyTuple ? bbox.items : null;
      if (items === null || items.length !== 4) throw new PyException('ValueError', `Invalid bbox format: ${pyStr(bbox)}`);
      const [x1, y1, x2, y2] = items.map(pyFloat) as [number, number, number, number];

      const n = BigInt(images.length);
      if (!(pyLessEqual(0n, idx) && pyLess(idx, n))) {
        throw new PyException('ValueError', `Image index ${pyStr(idx)} out of range [0, ${images.length - 1}]`);
      }
      if (typeof idx === 'number') {
        throw new PyException('TypeError', 'list indices must be integers or slices, not float');
      }
      const index = Number(idx); // int or bool, known to be in range
      const { width, height } = images[index]!;
      if (!(0 <= x1 && x1 < x2 && x2 <= width)) {
        throw new PyException('ValueError', `x-coordinates invalid: ${pyStr(x1)}, ${pyStr(x2)} for width ${width}`);
      }
      if (!(0 <= y1 && y1 < y2 && y2 <= height)) {
        throw new PyException('ValueError', `y-coordinates invalid: ${pyStr(y1)}, ${pyStr(y2)} for height ${height}`);
      }
      const valid: ValidRegion = { regionInCall: i, index, bbox: [x1, y1, x2, y2], width, height };
      regions.push({ ...valid, plan: plan ? plan(valid) : (null as P) });
    }
    return { ok: true, query, regions };
  } catch (e) {
    if (e instanceof PyException) return { ok: false, error: e.message, errorAtRegion: at };
    throw e;
  }
}
