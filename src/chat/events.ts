// The events a chat session streams (ChatSession.ask): one schema for the CLI (`vilavt chat`, `--json`), the
// browser app and the server, with their wording in one place. Field names are snake_case throughout: the events
// are also the JSON wire format (`--json`, the app's remote engine).
import { formatInt, formatMs } from '../util/format.js';
import type { SystemName, ToolEvent } from './loop-driver.js';

export type { JsonValue, ToolEvent } from './loop-driver.js';

export interface TurnTimings {
  /** Vision encoder (ViT) of the new groups. */
  vision: number;
  /** Inquiry text encoder of the new groups. */
  text: number;
  /** Tokenization, prefix matching and the LLM prefill (incl. the first sampled token). */
  prefill: number;
  /** Decode steps. */
  decode: number;
}

/** The end of one LLM call: what was reused, computed and generated, and how long each part took. */
export interface TurnEvent {
  type: 'turn';
  call: number;
  /** The call's prompt before pad expansion (identical to the driver's). */
  prompt: string;
  /** Tokens of the call (after pad expansion). */
  prompt_tokens: number;
  /** Prompt tokens computed this call. */
  prefill_tokens: number;
  /** Prompt tokens served from the KV cache. */
  reused_tokens: number;
  /** Response tokens (sampled, or teacher-forced when replayed), the stop token included. */
  generated_tokens: number;
  replayed: boolean;
  /** Merged vision tokens encoded this call (only for groups not in the cache). */
  vision_tokens_encoded: number;
  /** `<|image_pad|>` tokens of the whole call (encoded now or served from the cache). */
  vision_tokens_total: number;
  groups_encoded: number[];
  finish_reason: 'stop' | 'length';
  stop_reason: number | null;
  timings: TurnTimings;
  /** Decode throughput (null when nothing was decoded). */
  tokens_per_s: number | null;
}

/**
 * The done event's stop_reason when the message ended because its last call filled the KV cache (that call's
 * finish_reason is 'length', as vLLM reports a sequence that reaches max_model_len). Otherwise stop_reason is the
 * system's own stop cause ('answer', 'length', 'budget', ...).
 */
export const CONTEXT_FULL = 'context_full';

/** The end of a message: the system's extracted answer ('' when it has none: Pixel-Reasoner without \boxed{}). */
export interface DoneEvent { type: 'done'; answer: string; rounds: number; stop_reason: string; system: SystemName }

export type ChatEvent =
  | { type: 'token'; call: number; text: string }
  | ToolEvent
  | TurnEvent
  /** The replayed turns are used up: call `call` and the later ones are sampled. */
  | { type: 'replay_end'; call: number; replayed: number }
  | { type: 'answer'; answer: string }
  | DoneEvent;

/** One line of a call's numbers: tokens reused / computed / generated and the time of each part. */
export function describeTurn(t: TurnEvent): string {
  const tm = t.timings;
  const parts = [
    `${formatInt(t.prompt_tokens)} prompt tokens: ${formatInt(t.reused_tokens)} reused, ${formatInt(t.prefill_tokens)} computed`,
    t.vision_tokens_encoded
      ? `${formatInt(t.vision_tokens_encoded)} vision tokens encoded (vision ${formatMs(tm.vision)}, text encoder ${formatMs(tm.text)})`
      : 'vision: all reused',
    `prefill ${formatMs(tm.prefill)}`,
    `${formatInt(t.generated_tokens)} ${t.replayed ? 'replayed' : `generated in ${formatMs(tm.decode)}`} (${t.finish_reason})`,
  ];
  if (t.tokens_per_s !== null) parts.push(`${t.tokens_per_s.toFixed(1)} tok/s`);
  return parts.join(' · ');
}

/** A tool event in words (the caller labels it: zoom, tool error, region): the zoom asked for, its failure, one crop. */
export function describeTool(e: ToolEvent): string {
  switch (e.type) {
    case 'tool_call': {
      const regions = e.regions.map((r) => `image ${JSON.stringify(r.index)} ${JSON.stringify(r.bbox)}`).join(', ') || 'no regions';
      // A rejected call (ViLaVT validation failed) is followed by its tool_error; DeepEyes / Pixel-Reasoner have no query.
      if (e.rejected) return `rejected call: ${regions}`;
      return e.query === null ? regions : `query ${JSON.stringify(e.query)}: ${regions}`;
    }
    case 'tool_error':
      return e.feedback ?? e.error;
    case 'region':
      return `image ${e.source_index} box ${JSON.stringify(e.source_box)} -> ${e.image_index === null ? 'dropped (image cap)' : `image ${e.image_index}`}` +
        ` ${e.processed_size.join('x')} (${e.pad_tokens} tokens), cut ${JSON.stringify(e.crop_box)} of ${e.original}`;
  }
}

/** The replayed turns ran out: later calls are sampled. */
export function describeReplayEnd(e: Extract<ChatEvent, { type: 'replay_end' }>): string {
  return `the ${e.replayed} replayed turn(s) are used up: call ${e.call + 1} and later calls are sampled`;
}

/** How a message ended: LLM calls and the stop cause. */
export function describeDone(e: DoneEvent): string {
  const calls = `${e.rounds} LLM call${e.rounds === 1 ? '' : 's'}`;
  if (e.stop_reason === CONTEXT_FULL) return `${calls}, ended by context_full: the conversation filled the context (truncate it, or start a new one with a larger context)`;
  return `${calls}, ended by ${e.stop_reason}`;
}
