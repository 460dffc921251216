// One chat completion: the session's events folded into the OpenAI response (content = the trajectory as the
// model wrote it, rounds joined by a blank line), its stream chunks, and the `vilavt` extension (rounds with
// tool calls, regions and the extracted answer). Streaming and non-streaming share this code, so the streamed
// deltas concatenate to exactly the non-streamed content.
import type { ChatEvent, TurnTimings } from '../chat/events.js';
import type { JsonValue } from '../chat/loop-driver.js';
import type { RgbImage } from '../preprocess/image.js';

/** Text between the responses of two LLM calls in `content`. */
export const ROUND_SEPARATOR = '\n\n';

/** A region of a tool call as the API reports it: the session's event without its pixels, plus the crop as a PNG (request `vilavt.crops: true`). */
export type RegionInfo = Omit<Extract<ChatEvent, { type: 'region' }>, 'type' | 'call' | 'image'> & { image_url?: string };

export interface RoundInfo {
  call: number;
  text: string;
  prompt_tokens: number;
  reused_tokens: number;
  prefill_tokens: number;
  generated_tokens: number;
  vision_tokens_encoded: number;
  replayed: boolean;
  finish_reason: 'stop' | 'length';
  timings: TurnTimings;
  tokens_per_s: number | null;
  tool_call: { query: string | null; regions: { index: JsonValue; bbox: JsonValue }[]; parsed: JsonValue } | null;
  tool_error: { error: string; feedback: string | null } | null;
  regions: RegionInfo[];
}

/** How the conversation was found: continued from the store, new, or rebuilt from a history the store no longer had. */
export type ConversationSource = 'continued' | 'new' | 'rebuilt';

export interface VilavtExtension {
  rounds: RoundInfo[];
  answer: string | null;
  stop_reason: string | null;
  conversation: ConversationSource;
}

/** What streaming sends besides the content deltas: one `vilavt` event per round/tool call/region/answer. */
export type ExtensionEvent =
  | ({ type: 'round' } & Omit<RoundInfo, 'tool_call' | 'tool_error' | 'regions' | 'text'>)
  | ({ type: 'tool_call'; call: number } & NonNullable<RoundInfo['tool_call']>)
  | ({ type: 'tool_error'; call: number } & NonNullable<RoundInfo['tool_error']>)
  | ({ type: 'region'; call: number } & RegionInfo)
  | { type: 'answer'; answer: string };

export interface CompletionSink {
  content(delta: string): void;
  extension(e: ExtensionEvent): void;
}

export class CompletionBuilder {
  private text = '';
  private readonly rounds = new Map<number, RoundInfo>();
  private readonly texts = new Map<number, string>();
  private lastCall = -1;
  private answer: string | null = null;
  private stopReason: string | null = null;
  private lastFinish: 'stop' | 'length' = 'stop';

  constructor(
    private readonly sink: CompletionSink | null,
    private readonly encodePng: ((img: RgbImage) => Promise<Uint8Array>) | null,
  ) {}

  get content(): string {
    return this.text;
  }

  private delta(s: string): void {
    if (!s) return;
    this.text += s;
    this.sink?.content(s);
  }

  private round(call: number): RoundInfo {
    const r = this.rounds.get(call);
    if (!r) throw new Error(`event for call ${call} before its round`);
    return r;
  }

  async add(e: ChatEvent): Promise<void> {
    switch (e.type) {
      case 'token':
        if (e.call !== this.lastCall) {
          if (this.lastCall >= 0) this.delta(ROUND_SEPARATOR);
          this.lastCall = e.call;
        }
        this.texts.set(e.call, (this.texts.get(e.call) ?? '') + e.text);
        this.delta(e.text);
        return;
      case 'turn': {
        const { type: _t, prompt: _p, groups_encoded: _g, stop_reason: _s, ...stats } = e;
        void _t, _p, _g, _s;
        const r: RoundInfo = { ...stats, text: this.texts.get(e.call) ?? '', tool_call: null, tool_error: null, regions: [] };
        this.rounds.set(e.call, r);
        this.lastFinish = e.finish_reason;
        this.sink?.extension({ type: 'round', ...stats });
        return;
      }
      case 'tool_call': {
        const tc = { query: e.query, regions: e.regions, parsed: e.parsed };
        this.round(e.call).tool_call = tc;
        this.sink?.extension({ type: 'tool_call', call: e.call, ...tc });
        return;
      }
      case 'tool_error': {
        const te = { error: e.error, feedback: e.feedback };
        this.round(e.call).tool_error = te;
        this.sink?.extension({ type: 'tool_error', call: e.call, ...te });
        return;
      }
      case 'region': {
        const { type: _t, call, image, ...info } = e;
        void _t;
        const region: RegionInfo = { ...info };
        if (this.encodePng) region.image_url = `data:image/png;base64,${Buffer.from(await this.encodePng(image)).toString('base64')}`;
        this.round(call).regions.push(region);
        this.sink?.extension({ type: 'region', call, ...region });
        return;
      }
      case 'answer':
        this.answer = e.answer;
        this.sink?.extension({ type: 'answer', answer: e.answer });
        return;
      case 'done':
        this.stopReason = e.stop_reason;
        return;
    }
  }

  /** finish_reason: 'length' when the last LLM call ran out of tokens, else 'stop'. */
  get finishReason(): 'stop' | 'length' {
    return this.lastFinish;
  }

  usage(): { prompt_tokens: number; completion_tokens: number; total_tokens: number; prompt_tokens_details: { cached_tokens: number } } {
    let prompt = 0;
    let completion = 0;
    let cached = 0;
    for (const r of this.rounds.values()) {
      prompt += r.prompt_tokens;
      completion += r.generated_tokens;
      cached += r.reused_tokens;
    }
    return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, prompt_tokens_details: { cached_tokens: cached } };
  }

  extension(conversation: ConversationSource): VilavtExtension {
    return { rounds: [...this.rounds.values()], answer: this.answer, stop_reason: this.stopReason, conversation };
  }
}
