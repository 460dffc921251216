// Shared by the loop-golden runners (ViLaVT loop-a, DeepEyes, Pixel-Reasoner): reading cases.json with Python
// semantics (int and float stay distinct), the original images, the first difference between an expected and an
// actual record, and the replay of a trajectory's responses call by call up to its final record. Each runner only
// says how its system's driver is built and how its calls and final state are recorded.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LoopImageInput, LoopResponse } from '../chat/loop-driver.js';
import type { ContentItem, PromptRenderer } from '../text/conversation.js';
import { pyJsonLoads } from '../py/json-loads.js';
import { pyRepr } from '../py/repr.js';
import { pyHasNonFinite, pyIdentical } from '../py/structure.js';
import { PyDict, PyTuple, type PyValue } from '../py/value.js';
import type { DecodedImage } from '../preprocess/image.js';
import { decodeImageFile } from '../platform/node-image.js';

export const sha256 = (data: Uint8Array | string): string => createHash('sha256').update(data).digest('hex');

export const int = (n: number): bigint => BigInt(n);
export const ints = (a: readonly number[]): bigint[] => a.map(int);
export const dict = (o: Record<string, PyValue>): PyDict => PyDict.fromObject(o);

export class Mismatch extends Error {}

export function get(v: PyValue | undefined, key: string): PyValue {
  if (!(v instanceof PyDict) || !v.has(key)) throw new Mismatch(`golden has no field '${key}'`);
  return v.get(key)!;
}
export function str(v: PyValue): string {
  if (typeof v !== 'string') throw new Mismatch(`golden field is not a string: ${pyRepr(v)}`);
  return v;
}

function show(v: PyValue): string {
  const s = pyRepr(v);
  return s.length > 160 ? s.slice(0, 160) + '…' : s;
}

/** First difference between expected and actual, as `path: expected … got …`, or null. */
export function diff(path: string, exp: PyValue, got: PyValue): string | null {
  if (typeof exp === 'string' && typeof got === 'string' && exp !== got) {
    let i = 0;
    while (i < exp.length && exp[i] === got[i]) i++;
    const ctx = (s: string): string => JSON.stringify(s.slice(Math.max(0, i - 40), i + 40));
    return `${path}: strings differ at char ${i}: expected …${ctx(exp)}… got …${ctx(got)}…`;
  }
  if (exp instanceof PyDict && got instanceof PyDict) {
    for (const [k, v] of exp.entries) {
      if (!got.has(k)) return `${path}.${String(k)}: expected ${show(v)} got (missing)`;
      const d = diff(`${path}.${String(k)}`, v, got.get(k)!);
      if (d) return d;
    }
    for (const k of got.keys()) if (!exp.has(k)) return `${path}.${String(k)}: expected (absent) got ${show(got.get(k)!)}`;
    return null;
  }
  if (Array.isArray(exp) && Array.isArray(got)) {
    if (exp.length !== got.length) return `${path}: expected ${exp.length} items got ${got.length}: expected ${show(exp)} got ${show(got)}`;
    for (let i = 0; i < exp.length; i++) {
      const d = diff(`${path}[${i}]`, exp[i]!, got[i]!);
      if (d) return d;
    }
    return null;
  }
  return pyIdentical(exp, got) ? null : `${path}: expected ${show(exp)} got ${show(got)}`;
}


/** The parsed tool arguments as the golden writes them: JSON, or {"python_repr"} with NaN/inf. */
export function parsedAsGolden(v: PyValue): PyValue {
  if (pyHasNonFinite(v)) return dict({ python_repr: pyRepr(v) });
  const toJson = (x: PyValue): PyValue => {
    if (Array.isArray(x)) return x.map(toJson);
    if (x instanceof PyTuple) return x.items.map(toJson);
    if (x instanceof PyDict) {
      const d = new PyDict();
      for (const [k, val] of x.entries) d.set(typeof k === 'string' ? k : pyRepr(k), toJson(val));
      return d;
    }
    return x;
  };
  return toJson(v);
}

export const contentAsGolden = (items: readonly ContentItem[]): PyValue =>
  items.map((it) => (it.type === 'text' ? dict({ type: 'text', text: it.text }) : dict({ type: 'image' })));

/** How a golden run builds its drivers. */
export interface GoldenOptions {
  /** How the drivers render prompts (default: the built-in rules; a test replays with the jinja template). */
  render?: PromptRenderer;
}

/** What a trajectory runner gets: the trajectory, its input images (checked against cases.json), the options. */
export interface TrajectoryContext {
  traj: PyValue;
  /** The trajectory's `input` record. */
  input: PyValue;
  /** Its `input.images` file names, and those images decoded, in the same order. */
  files: string[];
  inputs: LoopImageInput[];
  /** Records an informative difference (printed as a NOTE line). */
  note: (s: string) => void;
  options: GoldenOptions;
}

/** Returns the first difference or null. */
export type TrajectoryRunner = (t: TrajectoryContext) => Promise<string | null>;

/** Runs every trajectory of DIR/cases.json (images decoded once); one PASS line per trajectory or its first difference. */
export async function runTrajectoryFile(dir: string, run: TrajectoryRunner, options: GoldenOptions = {}): Promise<{ ok: boolean; lines: string[] }> {
  const cases = pyJsonLoads(await readFile(join(dir, 'cases.json'), 'utf8'));
  const sizes = get(cases, 'images');
  const images = new Map<string, DecodedImage>();
  for (const name of (sizes as PyDict).keys()) images.set(str(name), await decodeImageFile(join(dir, str(name))));

  const lines: string[] = [];
  let ok = true;
  for (const traj of get(cases, 'trajectories') as PyValue[]) {
    const name = str(get(traj, 'name'));
    let problem: string | null;
    const notes: string[] = [];
    try {
      const input = get(traj, 'input');
      const files = (get(input, 'images') as PyValue[]).map(str);
      problem = checkInputImages(files, images, sizes) ?? await run({
        traj, input, files, inputs: files.map((f) => ({ image: images.get(f)!, name: f })), note: (n) => notes.push(`NOTE ${name} / ${n}`), options,
      });
    } catch (e) {
      problem = `threw ${(e as Error).stack ?? String(e)}`;
    }
    if (problem === null) lines.push(`PASS ${name}`);
    else {
      ok = false;
      lines.push(`FAIL ${name} / ${problem}`);
    }
    lines.push(...notes);
  }
  return { ok, lines };
}

/** Checks that every input file's pixels are the ones the golden was made from. */
function checkInputImages(files: readonly string[], images: Map<string, DecodedImage>, sizes: PyValue): string | null {
  for (const f of files) {
    const orig = images.get(f);
    if (!orig) return `initial / ${f}: not listed in cases.json images`;
    const d = diff(`initial / ${f} sha256_rgb`, get(get(sizes, f), 'sha256_rgb'), sha256(orig.data));
    if (d) return d;
  }
  return null;
}

/** What every loop golden records of an LLM call's prompt and its images' pad tokens. */
export function promptFields(call: { prompt: string; images: readonly { padTokens: number }[] }): Record<string, PyValue> {
  return {
    prompt: call.prompt,
    prompt_sha256: sha256(call.prompt),
    image_pad_tokens: call.images.map((im) => int(im.padTokens)),
    image_pad_tokens_total: int(call.images.reduce((n, im) => n + im.padTokens, 0)),
  };
}

/** What every loop golden records of the loop's end (each system adds its own fields). */
export function finalFields(f: { rounds: number; stopCause: string; numMessages: number; numImages: number; conversation: string }): Record<string, PyValue> {
  return {
    num_llm_calls: int(f.rounds),
    stop_cause: f.stopCause,
    num_messages: int(f.numMessages),
    num_images: int(f.numImages),
    conversation_sha256: sha256(f.conversation),
  };
}

/** The golden's recorded response as the drivers take it. */
export function loopResponse(r: PyValue): LoopResponse {
  const stopReason = get(r, 'stop_reason');
  return {
    text: str(get(r, 'text')),
    finishReason: str(get(r, 'finish_reason')) as 'stop' | 'length',
    stopReason: stopReason === null ? null : Number(stopReason as bigint),
  };
}

/** The fields every loop golden records of a given image before the loop starts: its file and original size. */
export function initialImage(file: string, orig: DecodedImage, fields: Record<string, PyValue>): PyDict {
  return dict({ file, original_wh: ints([orig.width, orig.height]), ...fields });
}

/** The driver's question text and initial images against the golden's `question_text` and `initial_images`. */
export function diffInitial(expected: PyValue, questionText: string, initialImages: PyValue[]): string | null {
  return diff('initial / question_text', get(expected, 'question_text'), questionText) ??
    diff('initial / initial_images', get(expected, 'initial_images'), initialImages);
}

/**
 * Replays the golden's responses through `driver`, call by call: `record` answers the driver's call `i` with the
 * golden response and returns the call as the golden records it (or a failure message). After the last call the
 * driver must stop; `final()` is then compared with the golden's final record. Returns the first difference.
 */
export function replayTrajectory<C>(
  driver: { nextCall(): C | null },
  traj: PyValue,
  record: (call: C, response: PyValue, expectedCall: PyValue) => PyDict | string,
  final: () => PyDict,
): string | null {
  const responses = get(get(traj, 'input'), 'responses') as PyValue[];
  const expected = get(traj, 'expected');
  const calls = get(expected, 'calls') as PyValue[];
  const tidy = (d: string | null) => d?.replace(' / .', ' / ') ?? null; // `call 2 / .tool` -> `call 2 / tool`
  for (let i = 0; i < calls.length; i++) {
    const call = driver.nextCall();
    if (call === null) return `call ${i}: expected a call, the driver has stopped`;
    const response = responses[i];
    if (response === undefined) return `call ${i}: golden has no response to replay`;
    const got = record(call, response, calls[i]!);
    if (typeof got === 'string') return `call ${i} / ${got}`;
    const d = tidy(diff(`call ${i} / `, calls[i]!, got));
    if (d) return d;
  }
  if (driver.nextCall() !== null) return `call ${calls.length}: the driver wants another call, the golden has none`;
  return tidy(diff('final / ', get(expected, 'final'), final()));
}
