// Reading a ChatSession's event stream in tests: collect it, pick the turns, join the streamed text, and the
// prompt ids of an LLM call computed independently of the session (tokenizer + pad expansion, as the processor does).
import type { ChatEvent } from '../../src/chat/events.js';
import { expandImagePads } from '../../src/text/image-pads.js';
import type { TextTokenizer } from '../../src/text/tokenizer.js';

export type Turn = Extract<ChatEvent, { type: 'turn' }>;

export async function collect(events: AsyncIterable<ChatEvent>): Promise<ChatEvent[]> {
  const out: ChatEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

export const turns = (ev: readonly ChatEvent[]): Turn[] => ev.filter((e): e is Turn => e.type === 'turn');

/** The streamed text of call `call` (every call when omitted). */
export const tokenText = (ev: readonly ChatEvent[], call?: number): string =>
  ev.filter((e) => e.type === 'token' && (call === undefined || e.call === call)).map((e) => (e as { text: string }).text).join('');

/** Prompt ids of an LLM call as the processor builds them: tokenize, then expand each image placeholder. */
export function callPromptIds(tokenizer: TextTokenizer, call: { prompt: string; images: readonly { padTokens: number }[] }): number[] {
  return expandImagePads(tokenizer.encode(call.prompt), tokenizer.specialIds.imagePad, call.images.map((im) => im.padTokens));
}
