// The EngineClient of the browser app: the engine in a module Web Worker (src/browser/worker.ts), messages by
// structured clone (region pixels and image bytes travel as typed arrays, picked files as File objects).
import type { EngineClient, EngineCommand, EngineEvent } from '../app/protocol.js';

export class WorkerEngineClient implements EngineClient {
  private readonly worker: Worker;
  private readonly listeners = new Set<(e: EngineEvent) => void>();

  constructor(scriptUrl: string | URL) {
    this.worker = new Worker(scriptUrl, { type: 'module', name: 'vilavt-engine' });
    this.worker.addEventListener('message', (m: MessageEvent<EngineEvent>) => this.emit(m.data));
    // A worker that fails to start (bad script, syntax error) must not leave the UI waiting for `hello`.
    this.worker.addEventListener('error', (ev: ErrorEvent) => {
      this.emit({
        type: 'hello',
        info: { protocol: 1, kind: 'worker', adapter: null, f16: false, sources: [], cache: false, unavailable: `the engine worker failed: ${ev.message || 'could not start'}` },
      });
    });
  }

  send(command: EngineCommand): void {
    this.worker.postMessage(command);
  }

  listen(listener: (e: EngineEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Test hook: make the worker destroy its GPU device (worker.ts LOSE_DEVICE_MESSAGE). */
  loseDevice(): void {
    this.worker.postMessage('__vilavt_lose_device');
  }

  close(): void {
    this.worker.terminate();
    this.listeners.clear();
  }

  private emit(e: EngineEvent): void {
    for (const l of this.listeners) l(e);
  }
}
