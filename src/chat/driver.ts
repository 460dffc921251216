// The canonical "chatting with images" loop (multi_turn_generate in vllm_eval/infer_vilavt_vllm.py,
// one sample, MODEL.md §6.1) as a state machine: nextCall() gives the prompt and images of the next LLM
// call, acceptResponse() applies the model's answer to it. No model, no platform: the real session,
// the CLI and the golden runner all drive this same class.

import { fetchImage } from '../preprocess/fetch-image.js';
import type { DecodedImage, RgbImage } from '../preprocess/image.js';
import { MAX_PIXELS_TOTAL, MIN_PIXELS, padTokenCount } from '../preprocess/smart-resize.js';
import { renderPrompt, type ContentItem, type Message, type PromptRenderer } from '../text/conversation.js';
import { ChatError } from './errors.js';
import {
  REASONING_SYSTEM_PROMPT,
  RESPONSE_PROMPT,
  RESPONSE_PROMPT_FINAL,
  firstTurnText,
  followUpText,
  imageIndexPrompt,
  imageIndexPromptV2,
  questionText,
} from './prompts.js';
import { pyStr } from '../py/repr.js';
import { PyDict, type PyValue } from '../py/value.js';
import { PY_RE_SPACE_CLASS, pyStrip } from '../py/whitespace.js';
import type { GenerationRules, LoopDriver, LoopResult, ToolEvent } from './loop-driver.js';
import { pyToJson } from './py-json.js';
import { parseToolCall, validateToolCall } from './tool-call.js';
import { planCrop, renderCrop, type Box, type CropPlan } from './zoom.js';

export interface ChatDriverSettings {
  /** LLM calls per sample (`--round`). */
  maxRounds: number;
  /** MAX_IMAGES: images per conversation. */
  maxImages: number;
  /** Total visual budget in pixels: split over the initial images, whole for every crop. */
  budget: number;
  minPixels: number;
}

export const CANONICAL_SETTINGS: Readonly<ChatDriverSettings> = {
  maxRounds: 10,
  maxImages: 50,
  budget: MAX_PIXELS_TOTAL,
  minPixels: MIN_PIXELS,
};

export interface ChatImageInput {
  /** The original file's pixels, as decoded (crops are always cut from these). */
  image: DecodedImage;
  /** A name/id of the original file. */
  name: string;
}

export interface ChatDriverOptions {
  images: readonly ChatImageInput[];
  question: string;
  problemType: string;
  options: readonly string[] | null;
  settings?: Partial<ChatDriverSettings>;
  /** Extra instructions appended to the reasoning system prompt (an API client's system message). */
  systemNote?: string;
  /** How prompts are rendered: the checkpoint's chat template (ChatTemplate.renderer); default the built-in rules. */
  render?: PromptRenderer;
}

export interface ProcessedImage {
  /** 0-based image index in the conversation (= prompt order). */
  index: number;
  /** Query group: initial image i -> i, crops of one tool call share one group. */
  group: number;
  /** Which initial image's original file the pixels come from. */
  original: number;
  originalName: string;
  /** Normalized region of the original file this image shows. */
  region: Box;
  /** The image the model sees (after smart_resize). */
  image: RgbImage;
  width: number;
  height: number;
  /** `<|image_pad|>` tokens it expands to: (h/28)*(w/28). */
  padTokens: number;
}

export interface LlmCall {
  /** 0-based call number. */
  call: number;
  /** The budget counter after it was decremented for this call (0 = the last call). */
  callsLeft: number;
  /** Chat text before `<|image_pad|>` expansion, ending with `<|im_start|>assistant\n`. */
  prompt: string;
  /** Every image attached to the call, in prompt order. */
  images: readonly ProcessedImage[];
  /** Inquiry text per query group. */
  queries: readonly string[];
  imageToQuery: readonly number[];
  /** Images and groups that were not part of the previous call (all of them for the first call). */
  newImages: readonly number[];
  newGroups: readonly number[];
}

export interface LlmResponse {
  /** Decoded response without the stop token. */
  text: string;
  finishReason: 'stop' | 'length';
  /** null = stopped on `<|im_end|>`; a token id (151643 = `<|endoftext|>`) otherwise. */
  stopReason: number | null;
}

export interface CropRecord extends CropPlan {
  regionInCall: number;
  sourceIndex: number;
  /** The bbox after float(). */
  bbox: Box;
  sourceWidth: number;
  sourceHeight: number;
  /** Which original image (0-based, in the order they were given) the crop is cut from. */
  originalIndex: number;
  originalName: string;
  originalWidth: number;
  originalHeight: number;
  zoom: DecodedImage;
  processed: RgbImage;
  padTokens: number;
  /** Image index, or null when dropped by the image cap. */
  newIndex: number | null;
}

export type ClosingPrompt = 'RESPONSE_PROMPT' | 'RESPONSE_PROMPT_FINAL';

export interface ToolTurn {
  /** What parse_output returned (null = None). */
  parsed: PyValue;
  /** Set when the `<answer>` fallback met a Python literal this port does not model. */
  parseNote: string | null;
  ok: boolean;
  error: string | null;
  errorAtRegion: number | null;
  /** "Zoom-in failed: " + error, on error only. */
  feedback: string | null;
  query: string | null;
  crops: CropRecord[];
  kept: number;
  droppedByCap: number;
  group: number | null;
  closingPrompt: ClosingPrompt;
}

export type TurnOutcome =
  | { outcome: 'finished'; call: number }
  | { outcome: 'budget_stop'; call: number }
  | { outcome: 'tool'; call: number; tool: ToolTurn; toolResponseContent: ContentItem[] }
  /** The response was dropped without a trace (reference: process_single_response -> None). */
  | { outcome: 'process_error'; call: number; message: string };

export type StopCause = 'answer' | 'length' | 'budget';

/** A follow-up user message: new images (maybe none) and a question, answered by a fresh call budget. */
export interface FollowUp {
  images: readonly ChatImageInput[];
  question: string;
  problemType?: string;
  options?: readonly string[] | null;
  /** LLM calls for this message (default: settings.maxRounds). */
  maxRounds?: number;
}

/** The driver's state at a message boundary (see ChatDriver.mark / restore). */
export interface DriverMark {
  readonly messages: number;
  readonly images: number;
  readonly queries: number;
  readonly originals: number;
  readonly callsLeft: number;
  readonly callCount: number;
  readonly stopCause: StopCause | null;
  readonly seenImages: number;
  readonly seenGroups: number;
}

export interface ChatFinal {
  rounds: number;
  stopCause: StopCause;
  numMessages: number;
  numImages: number;
  lastAssistantText: string;
  /** The `<answer>` content of the last response (or the whole text). */
  answer: string;
  /** Strict driver parity: the same regex applied to str() of the content list. */
  answerDriver: string;
  /** The final conversation rendered without the generation prompt. */
  conversation: string;
}

const ANSWER_EXTRACT = new RegExp(`<answer>${PY_RE_SPACE_CLASS}*([\\s\\S]*?)${PY_RE_SPACE_CLASS}*</answer>`);

/** extract_answer(): first `<answer>\s*(.*?)\s*</answer>` (DOTALL), stripped; else the whole text. */
export function extractAnswer(text: string): string {
  const m = ANSWER_EXTRACT.exec(text);
  return m ? pyStrip(m[1]!) : text;
}

/** infer_vilavt_vllm.py's sampling (temperature 0.75, top_p 0.9), 16384 tokens per call, 10 calls. */
export const VILAVT_GENERATION: Readonly<GenerationRules> = {
  greedy: false, temperature: 0.75, topP: 0.9, maxNewTokens: 16384, skipSpecialTokens: true, maxRounds: CANONICAL_SETTINGS.maxRounds,
};

export class ChatDriver implements LoopDriver {
  readonly system = 'vilavt' as const;
  readonly generation = VILAVT_GENERATION;
  readonly settings: Readonly<ChatDriverSettings>;
  /** The question as inserted into the prompt (question + options + type suffix). */
  readonly questionText: string;
  /** Per-image budget of the initial images (float division). */
  readonly initialMaxPixels: number;
  private readonly originals: ChatImageInput[];
  private readonly messages: Message[] = [];
  private readonly render: PromptRenderer;
  private readonly images: ProcessedImage[] = [];
  private readonly queries: string[] = [];
  private callsLeft: number;
  private callCount = 0;
  private pending: LlmCall | null = null;
  private stopCause: StopCause | null = null;
  private seenImages = 0;
  private seenGroups = 0;

  constructor(opts: ChatDriverOptions) {
    const s = { ...CANONICAL_SETTINGS, ...opts.settings };
    for (const k of ['maxRounds', 'maxImages', 'minPixels'] as const) {
      if (!Number.isSafeInteger(s[k]) || s[k] < 1) throw new ChatError(`settings.${k} must be a positive integer, got ${s[k]}`);
    }
    if (!(s.budget > 0)) throw new ChatError(`settings.budget must be positive, got ${s.budget}`);
    if (opts.images.length === 0) throw new ChatError('the loop needs at least one image');
    this.settings = s;
    this.render = opts.render ?? renderPrompt;
    this.originals = [...opts.images];
    this.callsLeft = s.maxRounds;
    this.questionText = questionText(opts.question, opts.problemType, opts.options);
    this.initialMaxPixels = s.budget / opts.images.length;

    opts.images.forEach((input, i) => {
      const image = fetchImage(input.image, { maxPixels: this.initialMaxPixels, minPixels: s.minPixels });
      this.addImage({ group: i, original: i, originalName: input.name, region: [0, 0, 1, 1], image });
      this.queries.push('');
    });
    const content: ContentItem[] = [];
    for (const img of this.images) content.push({ type: 'image', index: img.index }, { type: 'text', text: imageIndexPrompt(img.index) });
    const last = this.images[this.images.length - 1]!;
    content.push({ type: 'text', text: firstTurnText(this.images.length, last.width, last.height, this.questionText) });
    const system = opts.systemNote ? `${REASONING_SYSTEM_PROMPT}\n${opts.systemNote}` : REASONING_SYSTEM_PROMPT;
    this.messages.push({ role: 'system', content: system }, { role: 'user', content });
  }

  private addImage(p: Omit<ProcessedImage, 'index' | 'width' | 'height' | 'padTokens'>): ProcessedImage {
    const { width, height } = p.image;
    const img: ProcessedImage = { ...p, index: this.images.length, width, height, padTokens: padTokenCount(width, height) };
    this.images.push(img);
    return img;
  }

  /** All images so far, in prompt order, with their groups. */
  get allImages(): readonly ProcessedImage[] {
    return this.images;
  }
  get queryList(): readonly string[] {
    return this.queries;
  }
  get conversation(): readonly Message[] {
    return this.messages;
  }
  get stopped(): boolean {
    return this.stopCause !== null;
  }

  /** The next LLM call, or null once the loop has stopped. Must be answered with acceptResponse(). */
  nextCall(): LlmCall | null {
    if (this.stopCause !== null) return null;
    if (this.pending !== null) throw new ChatError('nextCall(): the previous call has not been answered yet');
    this.callsLeft -= 1;
    const call: LlmCall = {
      call: this.callCount,
      callsLeft: this.callsLeft,
      prompt: this.render(this.messages, { addGenerationPrompt: true }),
      images: this.images.slice(),
      queries: this.queries.slice(),
      imageToQuery: this.images.map((im) => im.group),
      newImages: this.images.slice(this.seenImages).map((im) => im.index),
      newGroups: this.queries.map((_, g) => g).slice(this.seenGroups),
    };
    this.seenImages = this.images.length;
    this.seenGroups = this.queries.length;
    this.pending = call;
    return call;
  }

  /** Apply the model's response to the pending call. */
  acceptResponse(resp: LlmResponse): TurnOutcome {
    const call = this.pending;
    if (call === null) throw new ChatError('acceptResponse(): no pending call (call nextCall() first)');
    if (resp.finishReason !== 'stop' && resp.finishReason !== 'length') {
      throw new ChatError(`finishReason must be 'stop' or 'length', got ${String(resp.finishReason)}`);
    }
    this.pending = null;
    this.callCount += 1;
    const n = call.call;
    const text = resp.text;
    const assistant: Message = { role: 'assistant', content: [{ type: 'text', text }] };

    if (this.callsLeft === 0) {
      this.messages.push(assistant);
      this.stopCause = 'budget';
      return { outcome: 'budget_stop', call: n };
    }
    const finished =
      resp.finishReason === 'length' ||
      (resp.stopReason === null && text.includes('<answer>') && text.includes('</answer>'));
    if (finished) {
      this.messages.push(assistant);
      this.stopCause = resp.finishReason === 'length' ? 'length' : 'answer';
      return { outcome: 'finished', call: n };
    }

    const parse = parseToolCall(text);
    if (parse.kind === 'process_error') return { outcome: 'process_error', call: n, message: parse.message };
    this.messages.push(assistant);
    const { tool, content } = this.runTool(parse.args, parse.note);
    this.messages.push({ role: 'user', content });
    return { outcome: 'tool', call: n, tool, toolResponseContent: content };
  }

  private runTool(parsed: PyValue, parseNote: string | null): { tool: ToolTurn; content: ContentItem[] } {
    const budget = { maxPixels: this.settings.budget, minPixels: this.settings.minPixels };
    const v = validateToolCall(parsed, this.images, (r) => {
      const src = this.images[r.index]!;
      const orig = this.originals[src.original]!.image;
      return planCrop(
        { width: src.width, height: src.height, region: src.region, originalWidth: orig.width, originalHeight: orig.height },
        r.bbox,
        budget,
      );
    });
    const base = { parsed, parseNote, crops: [] as CropRecord[], kept: 0, droppedByCap: 0, group: null };
    if (!v.ok) {
      const feedback = 'Zoom-in failed: ' + v.error;
      const tool: ToolTurn = {
        ...base,
        ok: false,
        error: v.error,
        errorAtRegion: v.errorAtRegion,
        feedback,
        query: null,
        closingPrompt: 'RESPONSE_PROMPT_FINAL',
      };
      const content: ContentItem[] = [
        { type: 'text', text: '<tool_response>' + `[Error] Zoom-in failed: ${feedback}\n` },
        { type: 'text', text: RESPONSE_PROMPT_FINAL + '</tool_response>' },
      ];
      return { tool, content };
    }

    const crops: CropRecord[] = v.regions.map((r) => {
      const src = this.images[r.index]!;
      const orig = this.originals[src.original]!;
      const { zoom, processed } = renderCrop(orig.image, r.plan, budget);
      return {
        ...r.plan,
        regionInCall: r.regionInCall,
        sourceIndex: r.index,
        bbox: r.bbox,
        sourceWidth: src.width,
        sourceHeight: src.height,
        originalIndex: src.original,
        originalName: orig.name,
        originalWidth: orig.image.width,
        originalHeight: orig.image.height,
        zoom,
        processed,
        padTokens: padTokenCount(processed.width, processed.height),
        newIndex: null,
      };
    });
    const rest = Math.max(this.settings.maxImages - this.images.length, 0);
    const tool: ToolTurn = {
      ...base,
      ok: true,
      error: null,
      errorAtRegion: null,
      feedback: null,
      query: v.query,
      crops,
      closingPrompt: 'RESPONSE_PROMPT_FINAL',
    };
    if (rest === 0) {
      tool.droppedByCap = crops.length;
      return { tool, content: [{ type: 'text', text: '<tool_response>' + RESPONSE_PROMPT_FINAL + '</tool_response>' }] };
    }
    const kept = crops.slice(0, rest);
    tool.kept = kept.length;
    tool.droppedByCap = crops.length - kept.length;
    this.queries.push(v.query);
    const group = this.queries.length - 1;
    tool.group = group;
    const content: ContentItem[] = [{ type: 'text', text: '<tool_response>' }];
    for (const c of kept) {
      const src = this.images[c.sourceIndex]!;
      const img = this.addImage({ group, original: src.original, originalName: src.originalName, region: c.region, image: c.processed });
      c.newIndex = img.index;
      content.push({ type: 'image', index: img.index }, { type: 'text', text: imageIndexPromptV2(img.index, img.width, img.height) });
    }
    const final = this.callsLeft <= 1 || this.images.length >= this.settings.maxImages;
    tool.closingPrompt = final ? 'RESPONSE_PROMPT_FINAL' : 'RESPONSE_PROMPT';
    content.push({ type: 'text', text: (final ? RESPONSE_PROMPT_FINAL : RESPONSE_PROMPT) + '</tool_response>' });
    return { tool, content };
  }

  /** LLM calls answered so far, over all messages. */
  get calls(): number {
    return this.callCount;
  }

  /**
   * Continue a stopped conversation with a new user message (the app's follow-ups; the canonical driver answers one
   * question). The message holds the new images, each with its index line, then the question in the first turn's
   * format with one size line per new image (docs/WEB-APP.md). New images split the visual budget among themselves,
   * like the first message's; every earlier image, crop and query group stays as it was, so the next prompt extends
   * the previous one and the KV cache serves all of it.
   */
  followUp(f: FollowUp): void {
    if (this.stopCause === null) throw new ChatError('followUp(): the conversation is still running (answer its calls first)');
    const maxRounds = f.maxRounds ?? this.settings.maxRounds;
    if (!Number.isSafeInteger(maxRounds) || maxRounds < 1) throw new ChatError(`maxRounds must be a positive integer, got ${maxRounds}`);
    if (this.images.length + f.images.length > this.settings.maxImages) {
      throw new ChatError(`a conversation holds at most ${this.settings.maxImages} images; it has ${this.images.length}, the message adds ${f.images.length}`);
    }
    const perImage = this.settings.budget / Math.max(f.images.length, 1);
    const content: ContentItem[] = [];
    const added: ProcessedImage[] = [];
    for (const input of f.images) {
      const image = fetchImage(input.image, { maxPixels: perImage, minPixels: this.settings.minPixels });
      this.originals.push(input);
      const img = this.addImage({ group: this.queries.length, original: this.originals.length - 1, originalName: input.name, region: [0, 0, 1, 1], image });
      this.queries.push('');
      added.push(img);
      content.push({ type: 'image', index: img.index }, { type: 'text', text: imageIndexPrompt(img.index) });
    }
    content.push({ type: 'text', text: followUpText(added, questionText(f.question, f.problemType ?? 'free-form', f.options ?? null)) });
    this.messages.push({ role: 'user', content });
    this.callsLeft = maxRounds;
    this.stopCause = null;
  }

  /**
   * Record `text` as the answer to the current message without running the loop (an earlier exchange of a
   * conversation rebuilt from its plain-text history, e.g. an API client's resent messages); the driver is then
   * stopped, ready for followUp().
   */
  assumeAnswer(text: string): void {
    if (this.stopCause !== null || this.pending !== null) throw new ChatError('assumeAnswer(): the message is already answered or being answered');
    this.messages.push({ role: 'assistant', content: [{ type: 'text', text }] });
    this.stopCause = 'answer';
  }

  /** The state at a message boundary, to restore() when a message is abandoned (stopped, failed). */
  mark(): DriverMark {
    if (this.pending !== null) throw new ChatError('mark(): a call is pending');
    return {
      messages: this.messages.length, images: this.images.length, queries: this.queries.length, originals: this.originals.length,
      callsLeft: this.callsLeft, callCount: this.callCount, stopCause: this.stopCause, seenImages: this.seenImages, seenGroups: this.seenGroups,
    };
  }

  /** Drop everything after `m` (the messages, images and query groups added since), including a pending call. */
  restore(m: DriverMark): void {
    if (m.messages > this.messages.length || m.images > this.images.length) throw new ChatError('restore(): the mark is from a later state');
    this.messages.length = m.messages;
    this.images.length = m.images;
    this.queries.length = m.queries;
    this.originals.length = m.originals;
    this.callsLeft = m.callsLeft;
    this.callCount = m.callCount;
    this.stopCause = m.stopCause;
    this.seenImages = m.seenImages;
    this.seenGroups = m.seenGroups;
    this.pending = null;
  }

  respond(resp: LlmResponse): ToolEvent[] {
    return [...toolEvents(this.acceptResponse(resp))];
  }

  result(): LoopResult {
    const f = this.final();
    return { answer: f.answer, rounds: f.rounds, stopCause: f.stopCause };
  }

  /** The outcome of the whole loop; only once it has stopped. */
  final(): ChatFinal {
    if (this.stopCause === null) throw new ChatError('final(): the loop has not stopped yet');
    const last = this.messages[this.messages.length - 1]!;
    const items = last.content as ContentItem[];
    const lastText = items.map((it) => (it.type === 'text' ? it.text : '')).join('');
    const contentRepr = pyStr(
      items.map((it) => PyDict.fromObject(it.type === 'text' ? { type: 'text', text: it.text } : { type: 'image' })),
    );
    return {
      rounds: this.callCount,
      stopCause: this.stopCause,
      numMessages: this.messages.length,
      numImages: this.images.length,
      lastAssistantText: lastText,
      answer: extractAnswer(lastText),
      answerDriver: extractAnswer(contentRepr),
      conversation: this.render(this.messages, { addGenerationPrompt: false }),
    };
  }
}

/** What a ViLaVT turn did, as display events. */
function* toolEvents(o: TurnOutcome): Generator<ToolEvent> {
  if (o.outcome === 'process_error') {
    yield { type: 'tool_error', call: o.call, error: o.message, feedback: null };
    return;
  }
  if (o.outcome !== 'tool') return;
  const tool = o.tool;
  if (tool.parsed !== null) {
    const parsed = pyToJson(tool.parsed);
    const regionList = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) && Array.isArray(parsed.region) ? parsed.region : [];
    const regions = regionList.map((r) => {
      const d = r !== null && typeof r === 'object' && !Array.isArray(r) ? r : {};
      return { index: d.index ?? null, bbox: d.bbox_2d ?? null };
    });
    yield { type: 'tool_call', call: o.call, parsed, query: tool.query, rejected: !tool.ok && tool.query === null, regions };
  }
  if (!tool.ok) {
    yield { type: 'tool_error', call: o.call, error: tool.error!, feedback: tool.feedback };
    return;
  }
  for (const c of tool.crops) {
    yield {
      type: 'region', call: o.call, region_in_call: c.regionInCall, source_index: c.sourceIndex, image_index: c.newIndex,
      original_index: c.originalIndex, original: c.originalName, source_box: c.bbox, crop_box: [...c.box] as [number, number, number, number], region: c.region,
      zoom_size: [c.zoomWidth, c.zoomHeight], processed_size: [c.processedWidth, c.processedHeight], pad_tokens: c.padTokens,
      image: c.processed,
    };
  }
}
