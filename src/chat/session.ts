// "Chatting with images" on a loaded model (MODEL.md §6, §7, §9): ChatDriver decides every prompt and runs the tools;
// this class turns each of its LLM calls into GPU work — tokenize + expand pads, reuse the cached KV prefix,
// encode only the new query groups (inquiry text encoder + ViT), prefill the new tokens, sample and decode to a
// stop id — and reports the trajectory as typed events. Platform-neutral: images arrive decoded, or as bytes for
// the ImageDecoder the platform plugs in.
import { IMAGE_FACTOR } from '../preprocess/smart-resize.js';
import type { Gpu } from '../runtime/device.js';
import type { Tensor } from '../runtime/tensor.js';
import type { VilavtModel } from '../model/vilavt-model.js';
import type { DecodeState, ImageRows, Sampling } from '../model/llm.js';
import { abortReason, throwIfAborted } from '../runtime/cancel.js';
import { ContextOverflowError } from '../runtime/errors.js';
import type { DecodedImage, ImageDecoder, RgbImage } from '../preprocess/image.js';
import { contextLengthProblem } from '../model/kv-cache.js';
import { patchify } from '../preprocess/patchify.js';
import type { TextTokenizer } from '../text/tokenizer.js';
import type { ChatTemplate } from '../text/chat-template.js';
import { renderPrompt, type PromptRenderer } from '../text/conversation.js';
import { expandImagePads } from '../text/image-pads.js';
import { validInquiryIds } from '../text/inquiry-tokenizer.js';
import { ContextCache, type ImageBlock } from '../model/context-cache.js';
import { assembleImageRows, type ImageRowSource } from '../model/image-rows.js';
import { ChatDriver, VILAVT_GENERATION, type ChatDriverSettings, type DriverMark } from './driver.js';
import { DEFAULT_SEED, type LoopCall, type LoopDriver, type LoopResponse, type SystemName } from './loop-driver.js';
import { createLoopDriver } from './systems.js';
import { ChatError } from './errors.js';
import { CONTEXT_FULL, type ChatEvent, type TurnTimings } from './events.js';
import { mulberry32 } from '../util/random.js';

export interface ChatSessionOptions {
  gpu: Gpu;
  model: VilavtModel;
  /** The checkpoint's Qwen2 tokenizer (prompts, responses). */
  tokenizer: TextTokenizer;
  /** The Qwen3-Embedding tokenizer (ViLaVT's tool-call queries; not needed by the plain Qwen2.5-VL systems). */
  inquiryTokenizer?: TextTokenizer;
  /** The checkpoint's chat template (TextAssets.chatTemplate): every driver renders its prompts with it. Default: the built-in rules. */
  chatTemplate?: ChatTemplate;
  /** The tool-loop protocol (default vilavt); an ask may choose another. */
  system?: SystemName;
  imageDecoder?: ImageDecoder;
  /** KV cache capacity in tokens (default min(32768, max_position_embeddings)). */
  contextLength?: number;
  /** ViLaVT's image budget / cap overrides (defaults: the canonical driver's). */
  settings?: Partial<Omit<ChatDriverSettings, 'maxRounds'>>;
}

export interface ChatImage {
  /** Decoded pixels, or file bytes for the session's ImageDecoder. */
  image: DecodedImage | Uint8Array;
  name: string;
}

export interface SamplingOptions {
  seed?: number;
  /** Argmax instead of top-p sampling. */
  greedy?: boolean;
  temperature?: number;
  topP?: number;
}

/** A teacher-forced assistant turn: its text (and, optionally, how it ended; default: `<|im_end|>`). */
export type ReplayTurn = string | { text: string; finishReason?: 'stop' | 'length'; stopReason?: number | null };

export interface AskOptions {
  images: readonly ChatImage[];
  question: string;
  /** 'multiple choice' | 'free-form' | 'regression' | 'numerical' (default free-form). */
  problemType?: string;
  options?: readonly string[] | null;
  sampling?: SamplingOptions;
  /** LLM calls (default: the system's GenerationRules.maxRounds). */
  maxRounds?: number;
  /** Tokens per LLM call (default: the system's GenerationRules.maxNewTokens). */
  maxNewTokens?: number;
  /** Assistant turns to replay instead of sampling, in order (at least one); later calls are sampled (a `replay_end` event says so). */
  replay?: readonly ReplayTurn[];
  signal?: AbortSignal;
  /** The tool-loop protocol for this question (default: the session's). Sampling and token defaults follow it. */
  system?: SystemName;
  /**
   * Continue the conversation of the last completed ask with this message (`images` are the message's new ones;
   * `problemType`/`options` apply to its question). Default: start a new conversation (the KV cache still serves
   * whatever prefix the new prompt shares with it). A stopped or failed follow-up leaves the conversation as it was.
   */
  followUp?: boolean;
  /**
   * A new conversation (not with followUp) that starts with these earlier exchanges as plain text — their tool
   * calls are not re-run — and then asks `question` with `images` as a follow-up.
   */
  history?: readonly HistoryExchange[];
  /** Extra instructions appended to the system prompt (new conversations only). */
  systemNote?: string;
}

/** An earlier message and the answer given to it (the assistant's text as written). */
export interface HistoryExchange {
  images: readonly ChatImage[];
  question: string;
  answer: string;
}


/** Identity of an image block's features: its query group's inquiry and pixels, and its place in the group. */
interface BlockKey {
  query: string;
  group: readonly RgbImage[];
  index: number;
}

function sameImage(a: RgbImage, b: RgbImage): boolean {
  if (a === b) return true;
  if (a.width !== b.width || a.height !== b.height || a.data.length !== b.data.length) return false;
  for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) return false;
  return true;
}

function sameKey(a: BlockKey, b: BlockKey): boolean {
  return a.query === b.query && a.index === b.index && a.group.length === b.group.length &&
    a.group.every((im, i) => sameImage(im, b.group[i]!));
}


const now = (): number => performance.now();

export class ChatSession {
  private readonly gpu: Gpu;
  private readonly model: VilavtModel;
  private readonly tok: TextTokenizer;
  private readonly inquiryTok: TextTokenizer | undefined;
  private readonly render: PromptRenderer;
  private readonly system: SystemName;
  private readonly decoder: ImageDecoder | undefined;
  private readonly settings: Partial<Omit<ChatDriverSettings, 'maxRounds'>>;
  private readonly ctx: ContextCache<BlockKey>;
  private readonly imagePad: number;
  private readonly imEnd: number;
  private readonly stopIds: Set<number>;
  private state: DecodeState | null = null;
  /** The conversation a follow-up continues: the driver of the last completed ask. */
  private conversation: ChatDriver | null = null;
  private busy = false;
  private closed = false;

  constructor(o: ChatSessionOptions) {
    this.gpu = o.gpu;
    this.model = o.model;
    this.tok = o.tokenizer;
    this.inquiryTok = o.inquiryTokenizer;
    this.render = o.chatTemplate?.renderer ?? renderPrompt;
    this.system = o.system ?? 'vilavt';
    this.decoder = o.imageDecoder;
    this.settings = o.settings ?? {};
    const llm = o.model.config.llm;
    const vis = o.model.config.vision;
    // ChatDriver sizes images in 28-pixel units (qwen_vl_utils' IMAGE_FACTOR).
    if (vis.patchSize * vis.mergeSize !== IMAGE_FACTOR) {
      throw new ChatError(`the chat loop needs patch_size * spatial_merge_size = ${IMAGE_FACTOR}, this checkpoint has ${vis.patchSize} * ${vis.mergeSize}`);
    }
    const ids = o.tokenizer.specialIds;
    if (ids.imagePad !== llm.imageTokenId || ids.visionStart !== llm.visionStartTokenId) {
      throw new ChatError(`tokenizer and checkpoint disagree on image token ids (tokenizer <|image_pad|> ${ids.imagePad}, <|vision_start|> ${ids.visionStart}; config ${llm.imageTokenId}, ${llm.visionStartTokenId})`);
    }
    this.imagePad = ids.imagePad;
    this.imEnd = ids.imEnd;
    // vLLM: <|im_end|> is the EOS (stop_reason None); the ids of generation_config.json are stop tokens too
    // (the Qwen2.5-VL checkpoints list <|im_end|> and <|endoftext|>).
    this.stopIds = new Set([ids.imEnd, ...o.model.generation.eosTokenIds]);
    const capacity = o.contextLength ?? Math.min(32768, llm.maxPositionEmbeddings);
    const contextProblem = contextLengthProblem(llm, capacity, o.model.act, o.gpu.maxBindingBytes);
    if (contextProblem) throw new ChatError(`contextLength: ${contextProblem}`);
    this.ctx = new ContextCache<BlockKey>(o.model.llm, { capacity, imagePad: ids.imagePad, visionStart: ids.visionStart, sameKey });
  }

  /** Token ids the KV cache holds (prompt and fed response tokens of the latest call). */
  get cachedTokens(): number {
    return this.ctx.cachedIds.length;
  }
  get contextLength(): number {
    return this.ctx.capacity;
  }

  /** True when an ask with `followUp` can continue a conversation. */
  get hasConversation(): boolean {
    return this.conversation !== null;
  }

  /** Run the loop on one question; events stream as they happen. One ask at a time per session. */
  ask(opts: AskOptions): AsyncIterable<ChatEvent> {
    return { [Symbol.asyncIterator]: () => this.run(opts) };
  }

  /**
   * Keep only the first `tokens` tokens of the KV cache (default 0: empty it) and end the conversation (a
   * follow-up needs a new completed ask; earlier exchanges can come back as text through `history`). For a
   * conversation that stopped with `context_full` or failed with ContextOverflowError: the session stays usable,
   * and the next ask computes everything after the kept tokens.
   */
  truncate(tokens = 0): void {
    if (this.closed) throw new ChatError('this session is closed');
    if (this.busy) throw new ChatError('truncate(): a question is still running');
    const held = this.ctx.cachedIds.length;
    if (!Number.isSafeInteger(tokens) || tokens < 0 || tokens > held) throw new ChatError(`truncate(${tokens}): give a token count in 0..${held} (the tokens cached now)`);
    if (tokens === held) return;
    this.ctx.rollback(tokens);
    this.conversation = null;
  }

  /** Release the KV cache and decode state (the model stays loaded). */
  close(): void {
    if (this.closed) return;
    if (this.busy) throw new ChatError('close(): a question is still running');
    this.closed = true;
    this.state?.release();
    this.state = null;
    this.ctx.destroy();
  }

  private async *run(o: AskOptions): AsyncGenerator<ChatEvent> {
    if (this.closed) throw new ChatError('this session is closed');
    if (this.busy) throw new ChatError('this session is already answering a question (one ask at a time)');
    this.busy = true;
    try {
      yield* this.loop(o);
    } finally {
      this.busy = false;
    }
  }

  private async *loop(o: AskOptions): AsyncGenerator<ChatEvent> {
    const images = await this.decodeAll(o.images);
    const system = o.system ?? this.system;
    let driver: LoopDriver;
    let mark: DriverMark | null = null;
    let vilavt: ChatDriver | null = null;
    if (system !== 'vilavt' && (o.followUp || o.history?.length || o.systemNote !== undefined)) {
      throw new ChatError(`followUp, history and systemNote are ViLaVT conversation features; ${system}'s reference answers one question`);
    }
    if (o.followUp) {
      if (!this.conversation) throw new ChatError('followUp: there is no conversation to continue (none was completed since the session started)');
      driver = vilavt = this.conversation;
      mark = vilavt.mark();
      vilavt.followUp({ images, question: o.question, problemType: o.problemType, options: o.options, maxRounds: o.maxRounds ?? vilavt.settings.maxRounds });
    } else if (system === 'vilavt') {
      const settings = { ...this.settings, maxRounds: o.maxRounds ?? VILAVT_GENERATION.maxRounds };
      const history = o.history ?? [];
      const first = history[0];
      driver = vilavt = first
        ? new ChatDriver({ images: await this.decodeAll(first.images), question: first.question, problemType: 'free-form', options: null, settings, systemNote: o.systemNote, render: this.render })
        : new ChatDriver({ images, question: o.question, problemType: o.problemType ?? 'free-form', options: o.options ?? null, settings, systemNote: o.systemNote, render: this.render });
      for (let i = 0; i < history.length; i++) {
        vilavt.assumeAnswer(history[i]!.answer);
        const next = history[i + 1];
        vilavt.followUp(next
          ? { images: await this.decodeAll(next.images), question: next.question }
          : { images, question: o.question, problemType: o.problemType, options: o.options });
      }
    } else {
      driver = createLoopDriver(system, { images, question: o.question, options: o.options ?? null, problemType: o.problemType, maxRounds: o.maxRounds, render: this.render });
    }
    const gen = driver.generation;
    const s = o.sampling ?? {};
    const maxNew = o.maxNewTokens ?? gen.maxNewTokens;
    if (!Number.isSafeInteger(maxNew) || maxNew < 1) throw new ChatError(`maxNewTokens must be a positive integer, got ${maxNew}`);
    // The system's own decoding unless the caller sets any sampling parameter.
    const greedy = s.greedy ?? (s.temperature === undefined && s.topP === undefined ? gen.greedy : false);
    const temperature = s.temperature ?? gen.temperature;
    const topP = s.topP ?? gen.topP;
    if (!greedy && !(temperature > 0 && topP > 0 && topP <= 1)) throw new ChatError(`sampling needs temperature > 0 and 0 < topP <= 1, got ${temperature}, ${topP}`);
    const sampling: Sampling = greedy ? { kind: 'greedy' } : { kind: 'top-p', temperature, topP, uniform: mulberry32(s.seed ?? DEFAULT_SEED) };

    if (vilavt) this.conversation = null; // until this message completes
    const firstCall = vilavt ? vilavt.calls : 0;
    const replay = o.replay ?? [];
    if (o.replay !== undefined && replay.length === 0) throw new ChatError('replay has no turns (omit it to sample every call)');
    let completed = false;
    /** The last call's decode stopped because the KV cache was full (it ended with finish_reason 'length'). */
    let contextFull = false;
    try {
      for (let call = driver.nextCall(); call !== null; call = driver.nextCall()) {
        if (o.signal?.aborted) throw abortReason(o.signal);
        const turn: { response?: LoopResponse; contextFull?: boolean } = {};
        if (replay.length > 0 && call.call - firstCall === replay.length) yield { type: 'replay_end', call: call.call, replayed: replay.length };
        yield* this.runCall(call, replay[call.call - firstCall], sampling, maxNew, gen.skipSpecialTokens, o.signal, turn);
        yield* driver.respond(turn.response!);
        contextFull = turn.contextFull === true;
      }
      const f = driver.result();
      completed = true;
      if (vilavt) this.conversation = vilavt;
      const answer = f.answer ?? '';
      yield { type: 'answer', answer };
      yield { type: 'done', answer, rounds: f.rounds - firstCall, stop_reason: contextFull ? CONTEXT_FULL : f.stopCause, system };
    } finally {
      // An abandoned follow-up (stopped, failed, iteration ended early) leaves the conversation as it was.
      if (!completed && mark && vilavt) {
        vilavt.restore(mark);
        this.conversation = vilavt;
      }
    }
  }

  private async decodeAll(list: readonly ChatImage[]): Promise<{ image: DecodedImage; name: string }[]> {
    const images: { image: DecodedImage; name: string }[] = [];
    for (const im of list) {
      if (im.image instanceof Uint8Array) {
        if (!this.decoder) throw new ChatError(`image ${im.name} is given as bytes but the session has no image decoder`);
        images.push({ image: await this.decoder.decode(im.image, im.name), name: im.name });
      } else images.push({ image: im.image, name: im.name });
    }
    return images;
  }

  /** One LLM call: prefill (reusing the cache), then sample + decode or teacher-force the replayed text. */
  private async *runCall(call: LoopCall, replay: ReplayTurn | undefined, sampling: Sampling, maxNew: number, skipSpecialTokens: boolean,
    signal: AbortSignal | undefined, out: { response?: LoopResponse; contextFull?: boolean }): AsyncGenerator<ChatEvent> {
    const t = { vision: 0, text: 0, prefill: 0, decode: 0 };
    const t0 = now();
    const ids = expandImagePads(this.tok.encode(call.prompt), this.imagePad, call.images.map((im) => im.padTokens));
    const blocks = this.blocksOf(ids, call);
    const plan = this.ctx.plan(ids, blocks);
    t.prefill += now() - t0;
    // Before any GPU work: a prompt the cache cannot hold — text, image pads, a zoom's new visual tokens, and a
    // replayed (teacher-forced) response — fails now; a sampled response stops at the capacity (context_full).
    const forcedTurn = replay === undefined ? null : typeof replay === 'string' ? { text: replay } : replay;
    const forced = forcedTurn ? this.tok.encode(forcedTurn.text) : [];
    if (ids.length + forced.length > this.ctx.capacity) throw new ContextOverflowError(this.ctx.capacity, ids.length + forced.length);

    // Features of the query groups whose images must be prefilled (each group encoded once, in full).
    const groups = [...new Set(plan.newBlocks.map((b) => call.images[b]!.group))];
    const feats = new Map<number, Tensor>();
    let visionTokens = 0;
    let rows: ImageRows | null = null;
    let ownRows: Tensor | null = null;
    try {
      for (const g of groups) {
        if (signal?.aborted) throw abortReason(signal);
        const f = await this.encodeGroup(call, g, t, signal);
        feats.set(g, f);
        visionTokens += f.rows;
      }
      const assembled = assembleImageRows(this.gpu, this.rowSources(call, blocks, plan.keep, plan.newBlocks, feats));
      rows = assembled.rows;
      ownRows = assembled.owned;
      if (signal?.aborted) throw abortReason(signal);

      const base = {
        type: 'turn' as const, call: call.call, prompt: call.prompt, prompt_tokens: ids.length,
        prefill_tokens: ids.length - plan.keep, reused_tokens: plan.keep, vision_tokens_encoded: visionTokens, groups_encoded: groups,
        vision_tokens_total: call.images.reduce((n, im) => n + im.padTokens, 0),
      };
      if (forcedTurn) {
        const r = forcedTurn;
        const t1 = now();
        await this.ctx.prefill([...ids, ...forced], blocks, plan, rows, { kind: 'none' }, signal);
        t.prefill += now() - t1;
        if (r.text) yield { type: 'token', call: call.call, text: r.text };
        const finishReason = r.finishReason ?? 'stop';
        const stopReason = r.stopReason ?? null;
        out.response = { text: r.text, finishReason, stopReason, totalTokens: ids.length + forced.length + (finishReason === 'stop' ? 1 : 0) };
        yield { ...base, generated_tokens: forced.length, replayed: true, finish_reason: finishReason, stop_reason: stopReason, timings: t, tokens_per_s: null };
        return;
      }

      const state = (this.state ??= this.model.llm.decodeState());
      const t1 = now();
      let token = (await this.ctx.prefill(ids, blocks, plan, rows, { kind: 'sample', state, sampling }, signal)).token!;
      t.prefill += now() - t1;
      releaseAll(feats, ownRows);
      feats.clear();
      ownRows = null;

      const generated: number[] = [];
      const stream = this.tok.decodeStream({ skipSpecialTokens });
      let finishReason: 'stop' | 'length' = 'length';
      let stopReason: number | null = null;
      const t2 = now();
      for (;;) {
        generated.push(token);
        if (this.stopIds.has(token)) {
          finishReason = 'stop';
          stopReason = token === this.imEnd ? null : token;
          break;
        }
        const delta = stream.push(token);
        if (delta) yield { type: 'token', call: call.call, text: delta };
        // vLLM stops with finish_reason "length" at max_tokens and when the sequence fills the model's context.
        if (generated.length >= maxNew || this.ctx.cachedIds.length >= this.ctx.capacity) break;
        if (signal?.aborted) throw abortReason(signal);
        token = await this.ctx.decodeStep(token, state, sampling);
      }
      const tail = stream.flush();
      if (tail) yield { type: 'token', call: call.call, text: tail };
      t.decode = now() - t2;
      out.contextFull = finishReason === 'length' && this.ctx.cachedIds.length >= this.ctx.capacity;
      const body = finishReason === 'stop' ? generated.slice(0, -1) : generated;
      out.response = { text: this.tok.decode(body, { skipSpecialTokens }), finishReason, stopReason, totalTokens: ids.length + generated.length };
      const steps = generated.length - 1;
      yield {
        ...base, generated_tokens: generated.length, replayed: false, finish_reason: finishReason, stop_reason: stopReason, timings: t,
        tokens_per_s: steps > 0 && t.decode > 0 ? (steps * 1000) / t.decode : null,
      };
    } finally {
      releaseAll(feats, ownRows);
    }
  }

  /** The image blocks of `ids`: image k of the call is the k-th `<|image_pad|>` run. */
  private blocksOf(ids: readonly number[], call: LoopCall): ImageBlock<BlockKey>[] {
    const groupImages = new Map<number, RgbImage[]>();
    for (const im of call.images) {
      const g = groupImages.get(im.group) ?? [];
      g.push(im.image);
      groupImages.set(im.group, g);
    }
    const out: ImageBlock<BlockKey>[] = [];
    let k = 0;
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] !== this.imagePad || (i > 0 && ids[i - 1] === this.imagePad)) continue;
      const im = call.images[k++]!;
      const group = groupImages.get(im.group)!;
      out.push({ start: i, grid: [im.height / IMAGE_FACTOR, im.width / IMAGE_FACTOR], key: { query: call.queries[im.group]!, group, index: group.indexOf(im.image) } });
    }
    return out;
  }

  /** Inquiry text encoder + ViT for every image of query group `g`: [merged rows of the group, hidden]. */
  private async encodeGroup(call: LoopCall, g: number, t: TurnTimings, signal: AbortSignal | undefined): Promise<Tensor> {
    const vis = this.model.config.vision;
    const pre = this.model.preprocessor;
    const members = call.images.filter((im) => im.group === g);
    const t0 = now();
    const query = call.queries[g]!;
    if (query !== '' && !this.inquiryTok) throw new ChatError('this session has no inquiry tokenizer: ViLaVT tool-call queries cannot be encoded');
    const inquiry = query === '' ? null : await this.model.encodeInquiry(validInquiryIds(this.inquiryTok!, query));
    await this.gpu.sync();
    const t1 = now();
    t.text += t1 - t0;
    try {
      throwIfAborted(signal);
      const images = members.map((im) => {
        const p = patchify(im.image, {
          patchSize: vis.patchSize, mergeSize: vis.mergeSize, temporalPatchSize: vis.temporalPatchSize, mean: pre.imageMean, std: pre.imageStd,
        });
        return { pixelValues: p.pixelValues, grid: p.gridThw };
      });
      const f = await this.model.vision.encode({ images, imageGroup: members.map(() => 0), inquiries: [inquiry], signal });
      await this.gpu.sync();
      t.vision += now() - t1;
      const want = members.reduce((n, im) => n + im.padTokens, 0);
      if (f.rows !== want) {
        f.release();
        throw new ChatError(`vision encoder returned ${f.rows} rows for group ${g}, its images have ${want} pad tokens`);
      }
      return f;
    } finally {
      inquiry?.release();
    }
  }

  /** Where each new block's feature rows come from: its group's features, after the earlier images of the group. */
  private rowSources(call: LoopCall, blocks: readonly ImageBlock<BlockKey>[], keep: number, newBlocks: readonly number[],
    feats: ReadonlyMap<number, Tensor>): ImageRowSource[] {
    return newBlocks.map((b) => {
      const im = call.images[b]!;
      const row0 = call.images.filter((x) => x.group === im.group && x.index < im.index).reduce((n, x) => n + x.padTokens, 0);
      return { tensor: feats.get(im.group)!, row0, rows: im.padTokens, padStart: blocks[b]!.start - keep };
    });
  }
}

function releaseAll(feats: ReadonlyMap<number, Tensor>, own: Tensor | null): void {
  for (const f of feats.values()) f.release();
  own?.release();
}
