// The chat app's engine protocol: the commands the UI sends and the events it renders. The browser engine runs in
// a module Web Worker (src/browser/worker.ts, messages by structured clone); a remote engine (the local server of
// `vilavt serve` / `vilavt app`) serves the same shapes as JSON (binary fields through `toJsonWire`). docs/WEB-APP.md
// describes the protocol and the browser's model cache. Platform-neutral: types and small pure helpers only.
import type { SystemName } from '../chat/loop-driver.js';
import type { ChatEvent } from '../chat/events.js';
import type { ReplayTurn, SamplingOptions } from '../chat/session.js';

export const PROTOCOL_VERSION = 1;

/** Where a model comes from. */
export type ModelSource =
  /** A Hugging Face-style folder over HTTP (Range requests); the browser engine caches it as it streams. */
  | { kind: 'url'; url: string }
  /** A model in the engine's cache, by the key a `list_models` reply gave. */
  | { kind: 'cache'; key: string }
  /** A picked folder's files (browser engine only: File objects do not travel to a remote engine). */
  | { kind: 'folder'; files: readonly File[] }
  /** The model a remote engine was started with (`vilavt serve --model DIR`). */
  | { kind: 'server' };

export interface LoadOptions {
  /** Activation precision (default f32; f16 needs shader-f16). */
  activations?: 'f32' | 'f16';
}

/** An image attached to a user message: the file's bytes (decoded by the engine). */
export interface ImageInput {
  name: string;
  bytes: Uint8Array;
}

export interface AskRequest {
  question: string;
  /** Images of this message only: a follow-up sends just the new ones (earlier ones stay in the conversation). */
  images: ImageInput[];
  /** Assistant turns to teacher-force for this message (tests, the random-weight demo). */
  replay?: ReplayTurn[];
  sampling?: SamplingOptions;
  /** LLM calls for this message (default: the system's GenerationRules.maxRounds). */
  maxRounds?: number;
  /** Tokens per LLM call (default: the system's GenerationRules.maxNewTokens). */
  maxNewTokens?: number;
  /** Tool-loop protocol (default: the loaded checkpoint's, see LoadedModel.system). Only ViLaVT continues conversations. */
  system?: SystemName;
}

/** Commands; every one with an `id` gets exactly one terminal reply (`done` or `failed`) with that id. */
export type EngineCommand =
  /** Load a model (replaces the loaded one; the conversation starts over). Progress arrives as `progress` events. */
  | { type: 'load'; id: number; source: ModelSource; options?: LoadOptions }
  /** Ask in the current conversation: the first message starts it, later ones are follow-ups reusing the KV cache. */
  | { type: 'ask'; id: number; request: AskRequest }
  /** Cancel the running ask or load (its reply is `failed` with kind 'aborted'); no-op when idle. */
  | { type: 'stop'; id: number }
  /** Forget the conversation and free its KV cache (the model stays loaded). */
  | { type: 'new_chat'; id: number }
  /** Models in the engine's cache. */
  | { type: 'list_models'; id: number }
  | { type: 'delete_model'; id: number; key: string };

export type EngineCommandType = EngineCommand['type'];

export interface EngineInfo {
  protocol: typeof PROTOCOL_VERSION;
  /** 'worker' (WebGPU in this browser) or 'remote' (a local server's engine). */
  kind: 'worker' | 'remote';
  /** The adapter in words ("Google / swiftshader …"), or null when there is none. */
  adapter: string | null;
  f16: boolean;
  /** Which ModelSource kinds this engine accepts, and whether it has a model cache. */
  sources: ModelSource['kind'][];
  cache: boolean;
  /** Set when the engine cannot run at all (no WebGPU, no adapter): the reason in words. */
  unavailable?: string;
}

export interface LoadProgress {
  phase: 'checking' | 'downloading' | 'loading';
  /** Bytes of weight files received (network) or read (cache, folder), and their total. */
  bytesDone: number;
  bytesTotal: number;
  tensorsDone: number;
  tensorsTotal: number;
  /** Bytes per second over the recent window (null until measurable). */
  bytesPerSecond: number | null;
  /** Seconds left at that rate (null when unknown). */
  etaSeconds: number | null;
  /** What is being fetched or uploaded now. */
  detail: string;
}

export interface LoadedModel {
  source: 'network' | 'cache' | 'folder' | 'server';
  /** Wall time of the load, command to ready. */
  loadMs: number;
  /** The folder's label (URL, folder name). */
  name: string;
  /** Cache key when the model is (now) in the engine's cache. */
  cacheKey: string | null;
  /** One line: tensors, layers, activations. */
  description: string;
  activations: 'f32' | 'f16';
  /** Bytes of the weight files. */
  weightBytes: number;
  /** The tool-loop protocol the checkpoint was trained for (null or absent: unknown, ViLaVT is used unless an ask says). */
  system?: SystemName | null;
  warnings: string[];
}

export interface AskSummary {
  answer: string;
  /** LLM calls of this message. */
  rounds: number;
  stopReason: string;
}

export interface CachedModel {
  key: string;
  /** Where it came from (the folder URL). */
  url: string;
  /** Bytes stored. */
  bytes: number;
  /** False while (or after an interrupted) download: a load resumes it. */
  complete: boolean;
  /** ISO date of the last completed load from it. */
  lastUsed: string | null;
}

/** Why a command failed, for the UI to say in words and decide what is still possible. */
export type EngineErrorKind =
  | 'aborted' // stopped by a `stop` command
  | 'device_lost' // the GPU device is gone: load again (from the cache) to continue
  | 'wont_fit' // the model does not fit this adapter (said before downloading)
  | 'quota' // not enough browser storage for the cache
  | 'network'
  | 'bad_input' // a typed error about the request, the images or the checkpoint
  | 'busy' // another command is running
  | 'unsupported'
  | 'internal';

export interface EngineError {
  kind: EngineErrorKind;
  message: string;
}

export type WireChatEvent = ChatEvent;

export type EngineEvent =
  /** Sent once when the engine is up (and again after a device loss, with the new adapter). */
  | { type: 'hello'; info: EngineInfo }
  | { type: 'progress'; id: number; progress: LoadProgress }
  /** One event of the running ask's trajectory (tokens, tool calls, regions with their pixels, turns, answer). */
  | { type: 'chat'; id: number; event: WireChatEvent }
  /** A storage note of a load (quota, persistence), in words. */
  | { type: 'notice'; id: number; message: string }
  | { type: 'done'; id: number; command: 'load'; result: LoadedModel }
  | { type: 'done'; id: number; command: 'ask'; result: AskSummary }
  | { type: 'done'; id: number; command: 'list_models'; result: CachedModel[] }
  | { type: 'done'; id: number; command: 'stop' | 'new_chat' | 'delete_model'; result: null }
  | { type: 'failed'; id: number; command: EngineCommandType; error: EngineError }
  /** The GPU device was lost (unsolicited): the loaded model is gone; a `load` (from the cache) recovers. */
  | { type: 'device_lost'; message: string };

export type DoneEvent<C extends EngineCommandType> = Extract<EngineEvent, { type: 'done'; command: C }>;

/**
 * One engine, local or remote: commands go in, events come out. The worker implementation is
 * src/browser/worker-client.ts; a remote one posts commands to a server and reads its event stream.
 */
export interface EngineClient {
  send(command: EngineCommand): void;
  /** Adds a listener for every event; returns the function that removes it. */
  listen(listener: (event: EngineEvent) => void): () => void;
  /** Ends the engine (terminates the worker / closes the connection). */
  close(): void;
}

// ---- JSON transport -----------------------------------------------------------------------------------------

/** A Uint8Array on a JSON wire. */
interface WireBytes { $bytes: string }

function toBase64(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

function fromBase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** A command or event as a JSON-safe value: every Uint8Array becomes `{"$bytes": base64}`. */
export function toJsonWire(v: unknown): unknown {
  if (v instanceof Uint8Array) return { $bytes: toBase64(v) } satisfies WireBytes;
  if (Array.isArray(v)) return v.map(toJsonWire);
  if (v !== null && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = toJsonWire(x);
    return o;
  }
  return v;
}

/** The inverse of toJsonWire. */
export function fromJsonWire<T>(v: unknown): T {
  const walk = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(walk);
    if (x !== null && typeof x === 'object') {
      const keys = Object.keys(x);
      if (keys.length === 1 && keys[0] === '$bytes' && typeof (x as WireBytes).$bytes === 'string') return fromBase64((x as WireBytes).$bytes);
      const o: Record<string, unknown> = {};
      for (const [k, y] of Object.entries(x)) o[k] = walk(y);
      return o;
    }
    return x;
  };
  return walk(v) as T;
}
