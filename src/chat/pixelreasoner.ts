// Pixel-Reasoner's tool loop (TIGER-Lab/PixelReasoner-RL-v1) as its evaluation path runs it (seed-systems MODEL.md §3:
// experience_maker.py _generate_vllm(is_eval=True), system prompt 'vcot'): a tool runs only when the response ENDS
// with `</tool_call>`, and then the LAST `<tool_call>` of the whole conversation text is parsed with json.loads;
// `target_image` is 1-based with Python's negative indexing; a bbox is normalized only when all four values are
// below 1; crops are padded by 0.1, clamped and rejected when a side is <= 28 px; every image is resized twice
// (driver, then vLLM's processor); errors are fed back; at most 4 tools, 16 images, 12088 tokens.
import { ImageError } from '../preprocess/errors.js';
import { fetchImage } from '../preprocess/fetch-image.js';
import { cropImage, type RgbImage } from '../preprocess/image.js';
import { IMAGE_FACTOR, padTokenCount, roundHalfEven } from '../preprocess/smart-resize.js';
import type { Box } from './zoom.js';
import { renderPrompt, type ContentItem, type Message, type PromptRenderer } from '../text/conversation.js';
import { ChatError } from './errors.js';
import type { GenerationRules, LoopCall, LoopDriver, LoopImage, LoopQuestion, LoopResponse, LoopResult, ToolEvent } from './loop-driver.js';
import { pyGetItem } from '../py/subscript.js';
import { pyBinary } from '../py/eval.js';
import { pyLess } from '../py/compare.js';
import { PyException, PyJsonDecodeError } from '../py/errors.js';
import { pyFloat } from '../py/float.js';
import { pyJsonLoads } from '../py/json-loads.js';
import { PyDict, type PyValue } from '../py/value.js';
import { pyToJson } from './py-json.js';

/** Qwen-Agent's tool description objects (PR-E:124-148, 47-68), in the order the driver lists them. */
const TOOLS = [
  {
    type: 'function',
    function: {
      name: 'crop_image_normalized',
      description: 'Zoom in on the image based on the bounding box coordinates. It is useful when the object or text in the image is too small to be seen.',
      parameters: {
        type: 'object',
        properties: {
          bbox_2d: { type: 'array', description: 'coordinates for bounding box of the area you want to zoom in. Values should be within [0.0,1.0].', items: { type: 'number' } },
          target_image: { type: 'number', description: 'The index of the image to crop. Index from 1 to the number of images. Choose 1 to operate on original image.' },
        },
        required: ['bbox_2d', 'target_image'],
      },
    },
  },
  {
    type: 'function',
    function: {
      name: 'select_frames',
      description: 'Select frames from a video.',
      parameters: {
        type: 'object',
        properties: {
          target_frames: {
            type: 'array', description: 'List of frame indices to select from the video (no more than 8 frames in total).',
            items: { type: 'integer', description: 'Frame index from 1 to 16.' },
          },
        },
        required: ['target_frames'],
      },
    },
  },
];

/** json.dumps(v, ensure_ascii=False) with the default separators, for the plain objects above. */
function jsonDumps(v: unknown): string {
  if (Array.isArray(v)) return '[' + v.map(jsonDumps).join(', ') + ']';
  if (v !== null && typeof v === 'object') return '{' + Object.entries(v).map(([k, x]) => JSON.stringify(k) + ': ' + jsonDumps(x)).join(', ') + '}';
  return JSON.stringify(v);
}

/** Qwen-Agent's FN_CALL_TEMPLATE (nous_fncall_prompt.py:242-254) with the two tools. */
export const PIXELREASONER_TOOL_BLOCK = `# Tools

You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
${TOOLS.map(jsonDumps).join('\n')}
</tools>

For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:
<tool_call>
{"name": <function-name>, "arguments": <args-json-object>}
</tool_call>`;

/** templates['vcot'] (prompts_dataset.py), appended after `\n\n`. */
export const PIXELREASONER_VCOT = '\n\nGuidelines: Understand the given visual information and the user query. Determine if it is beneficial to employ the given visual operations (tools). For a video, we can look closer by `select_frames`. For an image, we can look closer by `crop_image`. Reason with the visual information step by step, and put your final answer within \\boxed{}.';

export const SELECT_FRAMES_ON_IMAGE = 'Execution Error: You attempted to `select_frames` from **image** not **video**. You should use `crop_image_normalized` instead for inspecting **image**.';

export interface PixelReasonerSettings {
  initialMinPixels: number;
  initialMaxPixels: number;
  cropMinPixels: number;
  cropMaxPixels: number;
  vllmMinPixels: number;
  vllmMaxPixels: number;
  maxImages: number;
  /** A tool call with more previous tool calls than this is forced to stop. */
  maxToolCallsBeforeForcedStop: number;
  tokenLimit: number;
  cropPadding: number;
}

export const PIXELREASONER_SETTINGS: Readonly<PixelReasonerSettings> = {
  initialMinPixels: 256 * IMAGE_FACTOR ** 2,
  initialMaxPixels: 8000 * IMAGE_FACTOR ** 2,
  cropMinPixels: 256 * IMAGE_FACTOR ** 2,
  cropMaxPixels: 4014080,
  vllmMinPixels: 401408,
  vllmMaxPixels: 4014080,
  maxImages: 16,
  maxToolCallsBeforeForcedStop: 3,
  tokenLimit: 12 * 1024 - 200,
  cropPadding: 0.1,
};

export const PIXELREASONER_GENERATION: Readonly<GenerationRules> = {
  greedy: true, temperature: 0, topP: 1, maxNewTokens: 2048, skipSpecialTokens: false, maxRounds: 5,
};

const IM_END = '<|im_end|>';
const END_OF_TEXT = '<|endoftext|>';
const END_OF_TEXT_ID = 151643;

export interface PixelReasonerImage extends LoopImage {
  /** The driver's image (crop source; its size is the one stated to the model). */
  driverImage: RgbImage;
  originalName: string;
  /** Which input image the pixels come from. */
  originalIndex: number;
  /** Normalized region of the original file this image shows (crops of crops compose). */
  originalRegion: Box;
}

export interface PixelReasonerCall extends LoopCall {
  numToolCallsBefore: number;
  images: readonly PixelReasonerImage[];
}

export interface PixelReasonerCrop {
  targetImage: PyValue;
  sourceIndex: number;
  /** The four bbox values after float(). */
  bbox: Box;
  bboxMode: 'normalized' | 'pixels';
  sourceWidth: number;
  sourceHeight: number;
  /** Clamped normalized box (Python values: int 0/1 or float). */
  region: PyValue[];
  /** The float crop box handed to Pillow. */
  box: PyValue[];
  cropBox: [number, number, number, number];
  cropWidth: number;
  cropHeight: number;
  /** resize_cropped: the size stated to the model. */
  processed: RgbImage;
  /** After vLLM's processor: what the model sees. */
  model: RgbImage;
  padTokens: number;
  newIndex: number | null;
}

export interface PixelReasonerTool {
  /** json.loads result; undefined when the parse itself failed. */
  parsed: PyValue | undefined;
  ok: boolean;
  error: string | null;
  errorType: string | null;
  crop: PixelReasonerCrop | null;
}

export type PixelReasonerOutcome =
  | { outcome: 'tool'; call: number; requireTool: true; tool: PixelReasonerTool; toolResponseContent: ContentItem[] }
  | { outcome: 'finished'; call: number; requireTool: false }
  | { outcome: 'forced_stop'; call: number; requireTool: true }
  | { outcome: 'dropped'; call: number; requireTool: true; tool: PixelReasonerTool };

/** `max_calls`: only with a caller-set call cap (the reference has none besides the tool-call limit). */
export type PixelReasonerStopCause = 'no_tool_call' | 'tool_call_limit' | 'image_limit' | 'token_limit' | 'image_limit_after_tool' | 'max_calls';

export interface PixelReasonerFinal {
  rounds: number;
  stopCause: PixelReasonerStopCause;
  numToolCalls: number;
  numMessages: number;
  numImages: number;
  lastResponse: string;
  lastResponseInConversation: boolean;
  answer: string | null;
  conversation: string;
}

/** The content of the last `\boxed{…}` (braces matched), or null. */
export function lastBoxed(text: string): string | null {
  const at = text.lastIndexOf('\\boxed{');
  if (at < 0) return null;
  let depth = 1;
  for (let i = at + 7; i < text.length; i++) {
    if (text[i] === '{') depth++;
    else if (text[i] === '}' && --depth === 0) return text.slice(at + 7, i);
  }
  return null;
}

/** str(JSONDecodeError): `msg: line L column C (char P)`. */
function jsonErrorText(e: PyJsonDecodeError, doc: string): string {
  const before = doc.slice(0, e.pos);
  const line = before.split('\n').length;
  const col = e.pos - (before.lastIndexOf('\n') + 1) + 1;
  return `${e.msg}: line ${line} column ${col} (char ${e.pos})`;
}

/** Python's max(0, v) then min(…, 1): the first argument wins ties, so 0 and 1 stay ints. */
function clampUnit(v: number): PyValue {
  const lo: PyValue = v > 0 ? v : 0n;
  return typeof lo === 'number' && 1 < lo ? 1n : lo;
}

export class PixelReasonerDriver implements LoopDriver {
  readonly system = 'pixelreasoner' as const;
  readonly generation = PIXELREASONER_GENERATION;
  readonly settings: Readonly<PixelReasonerSettings>;
  readonly questionText: string;
  readonly initialCount: number;
  private readonly maxRounds: number;
  private readonly messages: Message[] = [];
  private readonly render: PromptRenderer;
  private readonly images: PixelReasonerImage[] = [];
  private pending: PixelReasonerCall | null = null;
  private numToolCalls = 0;
  private calls = 0;
  private stopCause: PixelReasonerStopCause | null = null;
  private lastResponse = '';
  private lastInConversation = false;

  constructor(q: LoopQuestion, settings: Partial<PixelReasonerSettings> = {}) {
    this.render = q.render ?? renderPrompt;
    this.settings = { ...PIXELREASONER_SETTINGS, ...settings };
    this.maxRounds = q.maxRounds ?? Infinity;
    if (!(this.maxRounds >= 1)) throw new ChatError(`maxRounds must be a positive integer, got ${q.maxRounds}`);
    if (q.images.length === 0) throw new ChatError('the loop needs at least one image');
    const s = this.settings;
    q.images.forEach((input, i) => {
      const driverImage = fetchImage(input.image, { minPixels: s.initialMinPixels, maxPixels: s.initialMaxPixels });
      this.addImage(driverImage, i, input.name, [0, 0, 1, 1]);
    });
    this.initialCount = q.images.length;
    const options = q.options?.length ? '\n' + q.options.map((o, i) => `${String.fromCharCode(65 + i)}. ${o}`).join('\n') : '';
    this.questionText = q.question + options + '\n\n' + PIXELREASONER_VCOT;
    this.messages.push(
      { role: 'system', content: [{ type: 'text', text: 'You are a helpful assistant.' }, { type: 'text', text: '\n\n' + PIXELREASONER_TOOL_BLOCK }] },
      { role: 'user', content: [...this.images.map((im): ContentItem => ({ type: 'image', index: im.index })), { type: 'text', text: this.questionText }] },
    );
  }

  /** vLLM's processor on a driver image: the image the model sees. */
  private modelView(driverImage: RgbImage): RgbImage {
    const s = this.settings;
    return fetchImage(driverImage, { minPixels: s.vllmMinPixels, maxPixels: s.vllmMaxPixels });
  }

  private addImage(driverImage: RgbImage, originalIndex: number, originalName: string, originalRegion: Box, image = this.modelView(driverImage)): PixelReasonerImage {
    const im: PixelReasonerImage = {
      index: this.images.length, group: this.images.length, image, width: image.width, height: image.height,
      padTokens: padTokenCount(image.width, image.height), driverImage, originalIndex, originalName, originalRegion,
    };
    this.images.push(im);
    return im;
  }

  get allImages(): readonly PixelReasonerImage[] {
    return this.images;
  }

  nextCall(): PixelReasonerCall | null {
    if (this.stopCause !== null) return null;
    if (this.pending !== null) throw new ChatError('nextCall(): the previous call has not been answered yet');
    const call: PixelReasonerCall = {
      call: this.calls, numToolCallsBefore: this.numToolCalls, prompt: this.render(this.messages, { addGenerationPrompt: true }),
      images: this.images.slice(), queries: this.images.map(() => ''),
    };
    this.pending = call;
    return call;
  }

  /** The decoded response: the text plus its stop token (special tokens are not skipped). */
  static decoded(resp: LoopResponse): string {
    if (resp.finishReason === 'length') return resp.text;
    if (resp.stopReason === null) return resp.text + IM_END;
    if (resp.stopReason === END_OF_TEXT_ID) return resp.text + END_OF_TEXT;
    throw new ChatError(`Pixel-Reasoner: stop token ${resp.stopReason} is not one of its stop strings`);
  }

  acceptResponse(resp: LoopResponse): PixelReasonerOutcome {
    const call = this.pending;
    if (call === null) throw new ChatError('acceptResponse(): no pending call (call nextCall() first)');
    if (resp.totalTokens === undefined) throw new ChatError('Pixel-Reasoner needs the call\'s token count (prompt + output) for its token limit');
    this.pending = null;
    this.calls += 1;
    const n = call.call;
    const decoded = PixelReasonerDriver.decoded(resp);
    const rsp = decoded.replaceAll(IM_END, '');
    this.lastResponse = rsp;
    const requireTool = rsp.endsWith('</tool_call>');
    const s = this.settings;
    const before = this.numToolCalls;
    if (requireTool) this.numToolCalls += 1;
    const force: PixelReasonerStopCause | null = before > s.maxToolCallsBeforeForcedStop ? 'tool_call_limit'
      : this.images.length > s.maxImages ? 'image_limit'
      : resp.totalTokens > s.tokenLimit ? 'token_limit'
      : this.calls >= this.maxRounds ? 'max_calls' : null;
    const assistant: Message = { role: 'assistant', content: rsp };
    if (!requireTool || force !== null) {
      this.messages.push(assistant);
      this.lastInConversation = true;
      this.stopCause = requireTool ? force! : 'no_tool_call';
      return requireTool ? { outcome: 'forced_stop', call: n, requireTool } : { outcome: 'finished', call: n, requireTool };
    }
    const text = call.prompt.replaceAll('<|image_pad|>', '') + decoded;
    const tool = this.runTool(text.split('<tool_call>').pop()!.split('</tool_call>')[0]!);
    const newImages = tool.crop ? 1 : 0;
    if (this.images.length + newImages > s.maxImages) {
      this.stopCause = 'image_limit_after_tool';
      this.lastInConversation = false;
      return { outcome: 'dropped', call: n, requireTool, tool };
    }
    let content: ContentItem[];
    if (tool.crop) {
      const c = tool.crop;
      const src = this.images[c.sourceIndex]!;
      const im = this.addImage(c.processed, src.originalIndex, src.originalName, this.regionInOriginal(c), c.model);
      c.newIndex = im.index;
      content = [{ type: 'text', text: `\nHere is the cropped image (Image Size: ${c.processed.width}x${c.processed.height}):` }, { type: 'image', index: im.index }];
    } else {
      content = [{ type: 'text', text: `\nExecution error:\n${tool.error}\n` }];
    }
    this.messages.push(assistant, { role: 'user', content });
    this.lastInConversation = true;
    return { outcome: 'tool', call: n, requireTool, tool, toolResponseContent: content };
  }

  /** PR-E:2265-2332: parse, look the operation up, execute; any exception becomes the error text. */
  private runTool(body: string): PixelReasonerTool {
    let parsed: PyValue | undefined;
    try {
      try {
        parsed = pyJsonLoads(body);
      } catch (e) {
        if (e instanceof PyJsonDecodeError) throw new PyException('JSONDecodeError', jsonErrorText(e, body));
        throw e;
      }
      const name = pyGetItem(parsed, 'name');
      const args = pyGetItem(parsed, 'arguments');
      const ops = PyDict.fromObject({ crop_image_normalized: 'crop_image_normalized', select_frames: 'select_frames' });
      const op = pyGetItem(ops, name);
      if (op === 'select_frames') throw new PyException('AssertionError', SELECT_FRAMES_ON_IMAGE);
      const crop = this.crop(args);
      return { parsed, ok: true, error: null, errorType: null, crop };
    } catch (e) {
      if (!(e instanceof PyException)) throw e;
      return { parsed, ok: false, error: e.message, errorType: e.pyType, crop: null };
    }
  }

  /** execute_tool + CropImageNormalized.call + resize_cropped. */
  private crop(args: PyValue): PixelReasonerCrop {
    const s = this.settings;
    const targetImage = pyGetItem(args, 'target_image');
    const index = pyBinary('-', targetImage, 1n);
    const n = this.images.length;
    if (!pyLess(index, BigInt(n))) {
      throw new PyException('AssertionError', `Execution Error: Incorrect \`target_image\` argument in \`crop_image_normalized\` operation. You can only pick an image within [1,${n}]`);
    }
    const positions = this.images.map((_, i) => BigInt(i));
    // rawimages[index] if index < len(rawimages) else images[index]; Python indexing (negative from the end).
    const fromInitial = pyLess(index, BigInt(this.initialCount));
    const sourceIndex = Number(pyGetItem(fromInitial ? positions.slice(0, this.initialCount) : positions, index) as bigint);
    const src = this.images[sourceIndex]!.driverImage;
    const bbox = pyGetItem(args, 'bbox_2d');
    const b = (i: number): PyValue => pyGetItem(bbox, BigInt(i));
    const normalized = pyLess(b(0), 1n) && pyLess(b(1), 1n) && pyLess(b(2), 1n) && pyLess(b(3), 1n);
    const { width: W, height: H } = src;
    const p = s.cropPadding;
    const raw = normalized
      ? [pyFloat(b(0)) - p, pyFloat(b(1)) - p, pyFloat(b(2)) + p, pyFloat(b(3)) + p]
      : [pyFloat(b(0)) / W - p, pyFloat(b(1)) / H - p, pyFloat(b(2)) / W + p, pyFloat(b(3)) / H + p];
    const region = raw.map(clampUnit);
    const size = [W, H, W, H].map(BigInt);
    const box = region.map((r, i) => pyBinary('*', r, size[i]!));
    const nums = box.map((v) => Number(v));
    if (nums[2]! < nums[0]!) throw new PyException('ValueError', "Coordinate 'right' is less than 'left'");
    if (nums[3]! < nums[1]!) throw new PyException('ValueError', "Coordinate 'lower' is less than 'upper'");
    const cut = cropImage(src, nums as [number, number, number, number]) as RgbImage;
    if (!(cut.width > 28 && cut.height > 28)) throw new PyException('AssertionError', `Cropped image is too small: ${cut.width}x${cut.height}`);
    let processed: RgbImage;
    try {
      processed = fetchImage(cut, { minPixels: s.cropMinPixels, maxPixels: s.cropMaxPixels });
    } catch (e) {
      if (e instanceof ImageError && e.code === 'aspect_ratio') throw new PyException('ValueError', e.message);
      throw e;
    }
    const model = this.modelView(processed);
    return {
      targetImage, sourceIndex, bboxMode: normalized ? 'normalized' : 'pixels', sourceWidth: W, sourceHeight: H, region, box,
      bbox: [0, 1, 2, 3].map((i) => pyFloat(b(i))) as Box, cropBox: nums.map(roundHalfEven) as [number, number, number, number], cropWidth: cut.width, cropHeight: cut.height,
      processed, model, padTokens: padTokenCount(model.width, model.height), newIndex: null,
    };
  }

  /** The crop's region of the original file: its box in the source's driver pixels, composed with the source's region. */
  private regionInOriginal(c: PixelReasonerCrop): Box {
    const [p0, q0, p1, q1] = this.images[c.sourceIndex]!.originalRegion;
    const [x0, y0, x1, y1] = c.cropBox;
    return [p0 + (x0 / c.sourceWidth) * (p1 - p0), q0 + (y0 / c.sourceHeight) * (q1 - q0), p0 + (x1 / c.sourceWidth) * (p1 - p0), q0 + (y1 / c.sourceHeight) * (q1 - q0)];
  }

  respond(resp: LoopResponse): ToolEvent[] {
    const o = this.acceptResponse(resp);
    if (o.outcome !== 'tool' && o.outcome !== 'dropped') return [];
    const t = o.tool;
    const events: ToolEvent[] = [];
    if (t.parsed !== undefined) {
      const args = t.parsed instanceof PyDict ? t.parsed.get('arguments') : undefined;
      const argsJson = args === undefined ? null : pyToJson(args);
      const a = argsJson !== null && typeof argsJson === 'object' && !Array.isArray(argsJson) ? argsJson : {};
      events.push({ type: 'tool_call', call: o.call, parsed: pyToJson(t.parsed), query: null, rejected: false, regions: [{ index: a.target_image ?? null, bbox: a.bbox_2d ?? null }] });
    }
    if (!t.ok) {
      events.push({ type: 'tool_error', call: o.call, error: t.error!, feedback: o.outcome === 'tool' ? `\nExecution error:\n${t.error}\n` : null });
      return events;
    }
    const c = t.crop!;
    events.push({
      type: 'region', call: o.call, region_in_call: 0, source_index: c.sourceIndex, image_index: c.newIndex,
      original_index: this.images[c.sourceIndex]!.originalIndex,
      original: this.images[c.sourceIndex]!.originalName,
      source_box: c.bbox,
      crop_box: c.cropBox, region: this.regionInOriginal(c),
      zoom_size: [c.processed.width, c.processed.height], processed_size: [c.model.width, c.model.height], pad_tokens: c.padTokens, image: c.model,
    });
    return events;
  }

  final(): PixelReasonerFinal {
    if (this.stopCause === null) throw new ChatError('final(): the loop has not stopped yet');
    return {
      rounds: this.calls,
      stopCause: this.stopCause,
      numToolCalls: this.numToolCalls,
      numMessages: this.messages.length,
      numImages: this.images.length,
      lastResponse: this.lastResponse,
      lastResponseInConversation: this.lastInConversation,
      answer: lastBoxed(this.lastResponse),
      conversation: this.render(this.messages, { addGenerationPrompt: false }),
    };
  }

  result(): LoopResult {
    const f = this.final();
    return { answer: f.answer, rounds: f.rounds, stopCause: f.stopCause };
  }
}
