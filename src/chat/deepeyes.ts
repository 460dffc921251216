// DeepEyes' tool loop (ChenShawn/DeepEyes-7B) as its evaluation script eval/eval_vstar.py runs it (seed-systems spec
// §2): the FIRST `<tool_call>` body is evaluated as a Python expression, the bbox is cut from the ORIGINAL file in
// original-pixel coordinates with Pillow's crop (no clamping), resized to smart_resize of the NOMINAL bbox size, and
// any exception ends the sample without telling the model; a response with neither a tool call nor `</answer>` is
// dropped and the same prompt is sent again. At most 11 LLM calls.
import { fetchImage } from '../preprocess/fetch-image.js';
import { cropImage, toRgb, type RgbImage } from '../preprocess/image.js';
import { resize } from '../preprocess/resample.js';
import { IMAGE_FACTOR, padTokenCount, roundHalfEven, smartResizeCore } from '../preprocess/smart-resize.js';
import { ImageError } from '../preprocess/errors.js';
import { renderPrompt, type ContentItem, type Message, type PromptRenderer } from '../text/conversation.js';
import { ChatError } from './errors.js';
import type { GenerationRules, LoopCall, LoopDriver, LoopImage, LoopQuestion, LoopResult, ToolEvent } from './loop-driver.js';
import { pyGetItem, pyUnpack } from '../py/subscript.js';
import { PyExpressionUnsupportedError, pyBinary, pyEval } from '../py/eval.js';
import { pyLess } from '../py/compare.js';
import { PyException } from '../py/errors.js';
import { pyTypeName, type PyValue } from '../py/value.js';
import { pyStrip } from '../py/whitespace.js';
import { pyToJson } from './py-json.js';

/** DE-E:53-71 (= PROMPT.SYSTEM_PROMPT_V2 of the training code). */
export const DEEPEYES_SYSTEM_PROMPT = `You are a helpful assistant.

# Tools
You may call one or more functions to assist with the user query.
You are provided with function signatures within <tools></tools> XML tags:
<tools>
{"type":"function","function":{"name":"image_zoom_in_tool","description":"Zoom in on a specific region of an image by cropping it based on a bounding box (bbox) and an optional object label.","parameters":{"type":"object","properties":{"bbox_2d":{"type":"array","items":{"type":"number"},"minItems":4,"maxItems":4,"description":"The bounding box of the region to zoom in, as [x1, y1, x2, y2], where (x1, y1) is the top-left corner and (x2, y2) is the bottom-right corner."},"label":{"type":"string","description":"The name or label of the object in the specified bounding box (optional)."}},"required":["bbox"]}}}
</tools>

# How to call a tool
Return a json object with function name and arguments within <tool_call></tool_call> XML tags:
<tool_call>
{"name": <function-name>, "arguments": <args-json-object>}
</tool_call>

**Example**:  
<tool_call>  
{"name": "image_zoom_in_tool", "arguments": {"bbox_2d": [10, 20, 100, 200], "label": "the apple on the desk"}}  
</tool_call>`;

/** USER_PROMPT_V2 (DE-E:72): two spaces in three places and a trailing space. */
export const DEEPEYES_USER_PROMPT = '\nThink first, call **image_zoom_in_tool** if needed, then answer. Format strictly as:  <think>...</think>  <tool_call>...</tool_call> (if tools needed)  <answer>...</answer> ';

const OPTION_LETTERS = 'ABCDEF';

/** The first user message's text (DE-E:131-152): `Question: …\nOptions: \nA. …\n` + USER_PROMPT_V2. */
export function deepEyesQuestionText(question: string, options: readonly string[]): string {
  if (options.length > OPTION_LETTERS.length) throw new ChatError(`DeepEyes letters at most ${OPTION_LETTERS.length} options (A-F), got ${options.length}`);
  const opts = '\n' + options.map((o, i) => `${OPTION_LETTERS[i]}. ${o}\n`).join('');
  return `Question: ${question}\nOptions: ${opts}\n${DEEPEYES_USER_PROMPT}`;
}

export interface DeepEyesSettings {
  /** try_count > maxTryCount ends the loop before a call: maxTryCount + 1 calls. */
  maxRounds: number;
  /** The server's processor (model view of every image). */
  serverMinPixels: number;
  serverMaxPixels: number;
  /** The script's own smart_resize of the nominal bbox size. */
  cropMinPixels: number;
  cropMaxPixels: number;
}

export const DEEPEYES_SETTINGS: Readonly<DeepEyesSettings> = {
  maxRounds: 11,
  serverMinPixels: 3136,
  serverMaxPixels: 12845056,
  cropMinPixels: 3136,
  cropMaxPixels: 12845056,
};

export const DEEPEYES_GENERATION: Readonly<GenerationRules> = {
  greedy: true, temperature: 0, topP: 1, maxNewTokens: 10240, skipSpecialTokens: true, maxRounds: 11,
};

/** Pillow's MAX_IMAGE_PIXELS: a crop over twice this is a DecompressionBombError. */
const PIL_MAX_IMAGE_PIXELS = 89478485;

export interface DeepEyesImage extends LoopImage {
  /** Name of the file the pixels come from. */
  originalName: string;
}

export interface DeepEyesCall extends LoopCall {
  /** The script's attempt counter (0-based). */
  tryCount: number;
  images: readonly DeepEyesImage[];
}

export interface DeepEyesCrop {
  body: string;
  parsed: PyValue;
  /** bbox_2d as given. */
  bbox: PyValue[];
  /** Pillow's rounded box in original pixels. */
  cropBox: [number, number, number, number];
  cropWidth: number;
  cropHeight: number;
  /** right - left, bottom - top (Python values: int or float). */
  bboxWidth: PyValue;
  bboxHeight: PyValue;
  /** The BICUBIC resize the script sends. */
  zoom: RgbImage;
  /** The server's view of it. */
  model: RgbImage;
  padTokens: number;
  newIndex: number;
}

export type DeepEyesOutcome =
  | { outcome: 'tool'; call: number; crop: DeepEyesCrop; toolResponseContent: ContentItem[] }
  /** Any exception: the sample ends with status error, nothing appended. */
  | { outcome: 'tool_error'; call: number; body: string | null; errorType: string; error: string }
  | { outcome: 'answer'; call: number }
  | { outcome: 'ignored'; call: number };

export type DeepEyesStopCause = 'answer' | 'error' | 'max_calls';

export interface DeepEyesFinal {
  rounds: number;
  stopCause: DeepEyesStopCause;
  status: 'success' | 'error';
  numMessages: number;
  numImages: number;
  lastResponse: string;
  predAns: string;
  /** The final conversation rendered without the generation prompt. */
  conversation: string;
}

/** pred_ans (DE-E:265-268). */
export function deepEyesAnswer(last: string): string {
  if (last.includes('<answer>') && last.includes('</answer>')) return pyStrip(last.split('<answer>')[1]!.split('</answer>')[0]!);
  return last;
}

/** Python round() of a Pillow crop coordinate, with its errors for non-numbers, NaN and infinities. */
function pillowRound(v: PyValue): number {
  if (typeof v === 'bigint') {
    const n = Number(v);
    if (!Number.isSafeInteger(n)) throw new ChatError(`crop coordinate ${v} is beyond what this port models`);
    return n;
  }
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number') {
    if (Number.isNaN(v)) throw new PyException('ValueError', 'cannot convert float NaN to integer');
    if (!Number.isFinite(v)) throw new PyException('OverflowError', 'cannot convert float infinity to integer');
    return roundHalfEven(v);
  }
  throw new PyException('TypeError', `type ${pyTypeName(v)} doesn't define __round__ method`);
}

/**
 * The parse half of a zoom (DE-E:194-200): eval of the body, `arguments.bbox_2d` unpacked into four values, and
 * Image.crop's checks on the raw values then round() of each coordinate. Throws PyException like the reference.
 */
export function deepEyesCropBox(body: string): { parsed: PyValue; bbox: [PyValue, PyValue, PyValue, PyValue]; box: [number, number, number, number] } {
  const parsed = pyEval(body);
  const bboxV = pyGetItem(pyGetItem(parsed, 'arguments'), 'bbox_2d');
  const bbox = pyUnpack(bboxV, 4) as [PyValue, PyValue, PyValue, PyValue];
  const [left, top, right, bottom] = bbox;
  if (pyLess(right, left)) throw new PyException('ValueError', "Coordinate 'right' is less than 'left'");
  if (pyLess(bottom, top)) throw new PyException('ValueError', "Coordinate 'lower' is less than 'upper'");
  return { parsed, bbox, box: bbox.map(pillowRound) as [number, number, number, number] };
}

const asNumber = (v: PyValue): number => (typeof v === 'bigint' ? Number(v) : typeof v === 'boolean' ? Number(v) : (v as number));

export class DeepEyesDriver implements LoopDriver {
  readonly system = 'deepeyes' as const;
  readonly generation = DEEPEYES_GENERATION;
  readonly settings: Readonly<DeepEyesSettings>;
  readonly questionText: string;
  /** The original file, in RGB (every crop is cut from it). */
  readonly original: RgbImage;
  readonly originalName: string;
  private readonly messages: Message[] = [];
  private readonly render: PromptRenderer;
  private readonly images: DeepEyesImage[] = [];
  private tryCount = 0;
  private pending: DeepEyesCall | null = null;
  private lastResponse = '';
  private stopCause: DeepEyesStopCause | null = null;
  private calls = 0;

  constructor(q: LoopQuestion, settings: Partial<DeepEyesSettings> = {}) {
    this.render = q.render ?? renderPrompt;
    this.settings = { ...DEEPEYES_SETTINGS, ...settings, ...(q.maxRounds !== undefined ? { maxRounds: q.maxRounds } : {}) };
    if (!Number.isSafeInteger(this.settings.maxRounds) || this.settings.maxRounds < 1) throw new ChatError(`maxRounds must be a positive integer, got ${this.settings.maxRounds}`);
    if (q.images.length !== 1) throw new ChatError(`DeepEyes' driver sends exactly one image, got ${q.images.length}`);
    const input = q.images[0]!;
    this.original = toRgb(input.image);
    this.originalName = input.name;
    this.questionText = deepEyesQuestionText(q.question, q.options ?? []);
    const view = this.serverView(this.original);
    this.addImage(view);
    this.messages.push(
      { role: 'system', content: DEEPEYES_SYSTEM_PROMPT },
      { role: 'user', content: [{ type: 'image', index: 0 }, { type: 'text', text: this.questionText }] },
    );
  }

  /** The server's processor: smart_resize(min, max) + BICUBIC (its aspect-ratio check fails the request). */
  private serverView(img: RgbImage): RgbImage {
    return fetchImage(img, { minPixels: this.settings.serverMinPixels, maxPixels: this.settings.serverMaxPixels });
  }

  private addImage(image: RgbImage): DeepEyesImage {
    const im: DeepEyesImage = {
      index: this.images.length, group: this.images.length, image, width: image.width, height: image.height,
      padTokens: padTokenCount(image.width, image.height), originalName: this.originalName,
    };
    this.images.push(im);
    return im;
  }

  get allImages(): readonly DeepEyesImage[] {
    return this.images;
  }
  get conversation(): readonly Message[] {
    return this.messages;
  }

  nextCall(): DeepEyesCall | null {
    if (this.stopCause !== null) return null;
    if (this.pending !== null) throw new ChatError('nextCall(): the previous call has not been answered yet');
    if (this.calls > 0 && this.lastResponse.includes('</answer>')) {
      this.stopCause = 'answer';
      return null;
    }
    if (this.tryCount > this.settings.maxRounds - 1) {
      this.stopCause = 'max_calls';
      return null;
    }
    const call: DeepEyesCall = {
      call: this.calls, tryCount: this.tryCount, prompt: this.render(this.messages, { addGenerationPrompt: true }),
      images: this.images.slice(), queries: this.images.map(() => ''),
    };
    this.pending = call;
    return call;
  }

  /** Apply the response (its content: special tokens skipped) to the pending call. */
  acceptResponse(text: string): DeepEyesOutcome {
    const call = this.pending;
    if (call === null) throw new ChatError('acceptResponse(): no pending call (call nextCall() first)');
    this.pending = null;
    this.calls += 1;
    this.lastResponse = text;
    const n = call.call;
    let outcome: DeepEyesOutcome;
    if (text.includes('<tool_call>')) {
      const body = pyStrip(text.split('<tool_call>')[1]!.split('</tool_call>')[0]!);
      try {
        const crop = this.zoom(body);
        const toolResponseContent: ContentItem[] = [
          { type: 'text', text: '<tool_response>' }, { type: 'image', index: crop.newIndex },
          { type: 'text', text: DEEPEYES_USER_PROMPT }, { type: 'text', text: '</tool_response>' },
        ];
        this.messages.push({ role: 'assistant', content: text }, { role: 'user', content: toolResponseContent });
        outcome = { outcome: 'tool', call: n, crop, toolResponseContent };
      } catch (e) {
        if (e instanceof PyExpressionUnsupportedError) {
          // The reference would run such a body through Python's eval (names, calls, sets…): not modelled, so say so.
          throw new ChatError(`DeepEyes: the <tool_call> body ${JSON.stringify(body.slice(0, 80))}${body.length > 80 ? '…' : ''}: ${e.message}`);
        }
        if (!(e instanceof PyException)) throw e;
        this.stopCause = 'error';
        return { outcome: 'tool_error', call: n, body, errorType: e.pyType, error: e.message };
      }
    } else {
      outcome = { outcome: text.includes('</answer>') ? 'answer' : 'ignored', call: n };
    }
    this.tryCount += 1;
    return outcome;
  }

  /** DE-E:194-208: eval, bbox lookup and unpack, Pillow crop of the original, nominal smart_resize, BICUBIC. */
  private zoom(body: string): DeepEyesCrop {
    const { parsed, bbox: [left, top, right, bottom], box } = deepEyesCropBox(body);
    const pixels = Math.abs(box[2] - box[0]) * Math.abs(box[3] - box[1]);
    if (pixels > 2 * PIL_MAX_IMAGE_PIXELS) {
      throw new PyException('DecompressionBombError', `Image size (${pixels} pixels) exceeds limit of ${2 * PIL_MAX_IMAGE_PIXELS} pixels, could be decompression bomb DOS attack.`);
    }
    const cut = cropImage(this.original, box) as RgbImage;
    const bboxWidth = pyBinary('-', right, left);
    const bboxHeight = pyBinary('-', bottom, top);
    let newW: number;
    let newH: number;
    try {
      // new_w, new_h = smart_resize(right - left, bottom - top): symmetric, so the swapped names do not matter.
      [newW, newH] = smartResizeCore(asNumber(bboxWidth), asNumber(bboxHeight), IMAGE_FACTOR, this.settings.cropMinPixels, this.settings.cropMaxPixels);
    } catch (e) {
      if (e instanceof ImageError && e.code === 'bad_size') {
        const ints = typeof bboxWidth !== 'number' && typeof bboxHeight !== 'number';
        throw new PyException('ZeroDivisionError', ints ? 'division by zero' : 'float division by zero');
      }
      throw e;
    }
    if ((cut.width === 0 || cut.height === 0) && (newW !== cut.width || newH !== cut.height)) {
      throw new ChatError(`DeepEyes: resizing the empty ${cut.width}x${cut.height} crop of ${JSON.stringify(body)} to ${newW}x${newH} gives pixels Pillow leaves undefined; not modelled`);
    }
    let zoom: RgbImage;
    try {
      zoom = resize(cut, newW, newH, 'bicubic') as RgbImage;
    } catch (e) {
      // smart_resize can floor a sliver's side to 0 (bbox [59, 0.48, 65535, 0.56]): Pillow's resize raises
      // ValueError, which ends the sample like any other exception of the zoom.
      if (e instanceof ImageError && e.code === 'bad_size') throw new PyException('ValueError', e.message);
      throw e;
    }
    let model: RgbImage;
    try {
      model = this.serverView(zoom);
    } catch (e) {
      // The server's processor rejects the image: the next request fails, which ends the sample.
      if (e instanceof ImageError) throw new PyException('BadRequestError', e.message);
      throw e;
    }
    const im = this.addImage(model);
    return {
      body, parsed, bbox: [left, top, right, bottom], cropBox: box, cropWidth: cut.width, cropHeight: cut.height,
      bboxWidth, bboxHeight, zoom, model, padTokens: im.padTokens, newIndex: im.index,
    };
  }

  respond(resp: { text: string }): ToolEvent[] {
    const o = this.acceptResponse(resp.text);
    if (o.outcome === 'tool_error') {
      return [{ type: 'tool_error', call: o.call, error: `${o.errorType}: ${o.error}`, feedback: null }];
    }
    if (o.outcome !== 'tool') return [];
    const c = o.crop;
    const bbox = c.bbox.map(asNumber) as [number, number, number, number];
    const { width: W, height: H } = this.original;
    return [
      { type: 'tool_call', call: o.call, parsed: pyToJson(c.parsed), query: null, rejected: false, regions: [{ index: 0, bbox: pyToJson(c.bbox) }] },
      {
        type: 'region', call: o.call, region_in_call: 0, source_index: 0, image_index: c.newIndex, original_index: 0, original: this.originalName,
        source_box: bbox, crop_box: c.cropBox, region: [c.cropBox[0] / W, c.cropBox[1] / H, c.cropBox[2] / W, c.cropBox[3] / H],
        zoom_size: [c.zoom.width, c.zoom.height], processed_size: [c.model.width, c.model.height], pad_tokens: c.padTokens, image: c.model,
      },
    ];
  }

  final(): DeepEyesFinal {
    if (this.stopCause === null) throw new ChatError('final(): the loop has not stopped yet');
    return {
      rounds: this.calls,
      stopCause: this.stopCause,
      status: this.stopCause === 'error' ? 'error' : 'success',
      numMessages: this.messages.length,
      numImages: this.images.length,
      lastResponse: this.lastResponse,
      predAns: deepEyesAnswer(this.lastResponse),
      conversation: this.render(this.messages, { addGenerationPrompt: false }),
    };
  }

  result(): LoopResult {
    const f = this.final();
    return { answer: f.predAns, rounds: f.rounds, stopCause: f.stopCause };
  }
}
