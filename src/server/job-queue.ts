// Requests share one model and one GPU: they run one at a time, in arrival order, from a bounded queue. A request
// whose client goes away while it waits leaves the queue without running.
import { ApiError } from './api-error.js';

interface Waiting {
  start: () => void;
}

export class JobQueue {
  private running = false;
  private readonly waiting: Waiting[] = [];

  /** @param maxWaiting requests allowed to wait behind the running one. */
  constructor(readonly maxWaiting: number) {}

  /** Requests waiting (not counting the running one). */
  get length(): number {
    return this.waiting.length;
  }
  get busy(): boolean {
    return this.running;
  }

  /** Run `job` when it is its turn; 429 at once when the queue is full; rejects with the abort reason when cancelled while waiting. */
  async run<T>(job: () => Promise<T>, signal: AbortSignal): Promise<T> {
    if (this.running && this.waiting.length >= this.maxWaiting) {
      throw new ApiError(429, 'server_busy', `the server is busy: ${this.waiting.length} request(s) are queued behind the running one (limit ${this.maxWaiting}); retry later`,
        'queue_full', null, { 'retry-after': '1', 'x-vilavt-queue-length': String(this.waiting.length) });
    }
    if (this.running) await this.wait(signal);
    else this.running = true;
    try {
      signal.throwIfAborted();
      return await job();
    } finally {
      this.next();
    }
  }

  private wait(signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const entry: Waiting = {
        start: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal.reason);
      };
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(entry);
    });
  }

  /** Hand the model to the next waiting request (running stays true), or free it. */
  private next(): void {
    const n = this.waiting.shift();
    if (n) n.start();
    else this.running = false;
  }
}
