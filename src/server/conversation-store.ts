// Recent conversations, so that a client resending the whole history (as every OpenAI client does) continues the
// one it came from: the KV cache and the encoded vision features stay on the GPU and only the new message is
// prefilled. A conversation is keyed by a hash of the history the server returned (the request's messages plus
// the assistant message it answered with); it is taken out while a request runs on it and stored again under
// its new key. Bounded by a memory budget: every session owns a KV cache of a fixed size, so the budget is a
// number of sessions; the least recently used one is closed first.
import { createHash } from 'node:crypto';
import type { ChatSession } from '../chat/session.js';
import type { RequestMessage } from './chat-request.js';

/** The key of a message history: roles, texts and image digests, in order. */
export function historyKey(messages: readonly Pick<RequestMessage, 'role' | 'text' | 'images'>[]): string {
  const canonical = messages.map((m) => [m.role, m.text, m.images.map((im) => im.digest)]);
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}

export class ConversationStore {
  /** Insertion order = recency (a Map iterates oldest first). */
  private readonly idle = new Map<string, ChatSession>();
  private hits = 0;
  private misses = 0;

  /**
   * @param maxIdle conversations kept between requests (the budget divided by one session's KV cache bytes,
   *   less the session of the running request); 0 keeps none.
   */
  constructor(readonly maxIdle: number) {
    if (!Number.isSafeInteger(maxIdle) || maxIdle < 0) throw new RangeError(`maxIdle must be a non-negative integer, got ${maxIdle}`);
  }

  /** Take the conversation stored under `key` out of the store (null when none). */
  take(key: string): ChatSession | null {
    const s = this.idle.get(key);
    if (!s) {
      this.misses++;
      return null;
    }
    this.idle.delete(key);
    this.hits++;
    return s;
  }

  /** Store a finished conversation as the most recent one; the oldest are closed beyond the budget. */
  put(key: string, session: ChatSession): void {
    const old = this.idle.get(key);
    if (old && old !== session) old.close();
    this.idle.delete(key);
    if (this.maxIdle === 0) {
      session.close();
      return;
    }
    this.idle.set(key, session);
    while (this.idle.size > this.maxIdle) {
      const [oldest, s] = this.idle.entries().next().value as [string, ChatSession];
      this.idle.delete(oldest);
      s.close();
    }
  }

  get size(): number {
    return this.idle.size;
  }
  get stats(): { kept: number; maxKept: number; hits: number; misses: number } {
    return { kept: this.idle.size, maxKept: this.maxIdle, hits: this.hits, misses: this.misses };
  }

  closeAll(): void {
    for (const s of this.idle.values()) s.close();
    this.idle.clear();
  }
}
