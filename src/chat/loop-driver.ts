// What every "thinking with images" system's tool loop offers the session: the next LLM call (prompt + the images
// the model sees, in prompt order), the model's response applied to it (tool events for the UI), and the final
// answer. ViLaVT (driver.ts), DeepEyes (deepeyes.ts) and Pixel-Reasoner (pixelreasoner.ts) implement it; the
// session, the CLI, `vilavt compare`, the golden runners and the browser app only talk to this interface.
import type { DecodedImage, RgbImage } from '../preprocess/image.js';
import type { PromptRenderer } from '../text/conversation.js';
import type { Box } from './zoom.js';

export type SystemName = 'vilavt' | 'deepeyes' | 'pixelreasoner';
export const SYSTEM_NAMES: readonly SystemName[] = ['vilavt', 'deepeyes', 'pixelreasoner'];

/** One image of an LLM call, as the model sees it. */
export interface LoopImage {
  /** 0-based position among the call's images (= prompt order). */
  index: number;
  /** Images of one group share one vision-encoder pass (ViLaVT: a tool call's crops + its inquiry). */
  group: number;
  /** The pixels the vision encoder gets (after every resize the reference applies). */
  image: RgbImage;
  width: number;
  height: number;
  /** `<|image_pad|>` tokens it expands to: (h/28)*(w/28). */
  padTokens: number;
}

export interface LoopCall {
  /** 0-based call number. */
  call: number;
  /** Chat text before `<|image_pad|>` expansion, ending with `<|im_start|>assistant\n`. */
  prompt: string;
  images: readonly LoopImage[];
  /** Inquiry text per group (empty: no inquiry conditioning, the stock vision tower). */
  queries: readonly string[];
}

export interface LoopResponse {
  /** The generated text without its stop token (special tokens kept or skipped per `generation.skipSpecialTokens`). */
  text: string;
  finishReason: 'stop' | 'length';
  /** null = stopped on `<|im_end|>`; a token id (151643 = `<|endoftext|>`) otherwise. */
  stopReason: number | null;
  /** Prompt tokens (pads expanded) + generated tokens incl. the stop token; needed by Pixel-Reasoner's token cap. */
  totalTokens?: number;
}

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

/** What a response did, for display: one tool call, its failure, the crops it made. */
export type ToolEvent =
  /** `query`: ViLaVT's inquiry (null when the call was rejected, or for systems without one); `rejected`: validation failed. */
  | { type: 'tool_call'; call: number; parsed: JsonValue; query: string | null; rejected: boolean; regions: { index: JsonValue; bbox: JsonValue }[] }
  /** A failed tool call; `feedback` is the text fed back to the model (null: nothing is shown to the model). */
  | { type: 'tool_error'; call: number; error: string; feedback: string | null }
  | {
    type: 'region'; call: number; region_in_call: number; source_index: number;
    /** Index of the new image, or null when dropped by an image cap. */
    image_index: number | null;
    /**
     * The given image (0-based) whose file pixels crop_box counts, or null when crop_box counts another image's pixels
     * (Pixel-Reasoner cuts from the driver's resized views). Names need not be unique; this index is.
     */
    original_index: number | null;
    /** Name of the file the pixels come from. */
    original: string;
    /** The bbox as the model gave it (after float()). */
    source_box: Box;
    /** The cut, in pixels of the image it was cut from (left, top, right, bottom; Pillow's rounding). */
    crop_box: [number, number, number, number];
    /** Normalized region of the ORIGINAL file the new image shows (for drawing the box on it). */
    region: Box;
    zoom_size: [number, number];
    processed_size: [number, number];
    pad_tokens: number;
    /** The image the model sees. */
    image: RgbImage;
  };

/** Seed of the top-p sampler's uniform stream when the caller gives none (CLI, app, server all default to it). */
export const DEFAULT_SEED = 1234;

/** Decoding rules of the system's reference inference code. */
export interface GenerationRules {
  /** Greedy decoding by default (temperature 0 in the reference). */
  greedy: boolean;
  temperature: number;
  topP: number;
  /** max_tokens per LLM call. */
  maxNewTokens: number;
  /** vLLM's skip_special_tokens for the response text. */
  skipSpecialTokens: boolean;
  /** Default number of LLM calls. */
  maxRounds: number;
}

export interface LoopResult {
  answer: string | null;
  rounds: number;
  /** The system's own stop cause (ViLaVT: answer|length|budget; DeepEyes: answer|error|max_calls; Pixel-Reasoner: …). */
  stopCause: string;
}

export interface LoopDriver {
  readonly system: SystemName;
  readonly generation: Readonly<GenerationRules>;
  /** The next LLM call, or null once the loop has stopped. Answer it with respond(). */
  nextCall(): LoopCall | null;
  /** Apply the model's response to the pending call; returns what happened, for display. */
  respond(resp: LoopResponse): ToolEvent[];
  /** Only once nextCall() returned null. */
  result(): LoopResult;
}

/** Input image of a loop: the decoded file (crops are cut from it) and its name. */
export interface LoopImageInput {
  image: DecodedImage;
  name: string;
}

/** What the user asks, for any system. */
export interface LoopQuestion {
  images: readonly LoopImageInput[];
  question: string;
  /** Multiple-choice options (ViLaVT and DeepEyes letter them; Pixel-Reasoner expects them in the question). */
  options?: readonly string[] | null;
  /** ViLaVT's problem type (default free-form). */
  problemType?: string;
  /** LLM calls (default: the system's). */
  maxRounds?: number;
  /** How prompts are rendered: the checkpoint's chat template (ChatTemplate.renderer); default the built-in rules. */
  render?: PromptRenderer;
}
