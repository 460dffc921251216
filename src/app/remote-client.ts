// The app's engine in another process: the Node engine behind `vilavt serve` / `vilavt app`. Each command is one
// POST /app/v1/command whose response streams that command's events as JSON lines (binary fields through
// toJsonWire) until its `done`/`failed`; GET /app/v1/hello gives the `hello` event. Platform-neutral (fetch only):
// the page uses it, and so do the Node tests.
import { fromJsonWire, toJsonWire, type EngineClient, type EngineCommand, type EngineEvent } from './protocol.js';

export class RemoteEngineClient implements EngineClient {
  private readonly listeners = new Set<(e: EngineEvent) => void>();
  private readonly inflight = new Set<AbortController>();
  private closed = false;

  /** @param base the server's origin, e.g. `http://127.0.0.1:8080` (the page's own origin in the app). */
  constructor(private readonly base: string, private readonly headers: Record<string, string> = {}) {
    void this.hello();
  }

  listen(listener: (e: EngineEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(e: EngineEvent): void {
    if (!this.closed) for (const l of this.listeners) l(e);
  }

  private async hello(): Promise<void> {
    try {
      const r = await fetch(`${this.base}/app/v1/hello`, { headers: this.headers });
      if (!r.ok) throw new Error(`the server answered ${r.status} ${r.statusText}`);
      this.emit(fromJsonWire<EngineEvent>(await r.json()));
    } catch (e) {
      this.emit({
        type: 'hello',
        info: { protocol: 1, kind: 'remote', adapter: null, f16: false, sources: [], cache: false, unavailable: `cannot reach the engine at ${this.base}: ${(e as Error).message}` },
      });
    }
  }

  send(command: EngineCommand): void {
    void this.post(command);
  }

  private async post(command: EngineCommand): Promise<void> {
    const controller = new AbortController();
    this.inflight.add(controller);
    let terminal = false;
    const deliver = (line: string) => {
      if (!line.trim()) return;
      const e = fromJsonWire<EngineEvent>(JSON.parse(line));
      if ((e.type === 'done' || e.type === 'failed') && e.id === command.id) terminal = true;
      this.emit(e);
    };
    try {
      const r = await fetch(`${this.base}/app/v1/command`, {
        method: 'POST', headers: { 'content-type': 'application/json', ...this.headers }, body: JSON.stringify(toJsonWire(command)), signal: controller.signal,
      });
      if (!r.ok || !r.body) throw new Error(`the server answered ${r.status}: ${(await r.text()).slice(0, 300)}`);
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          deliver(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
        }
      }
      deliver(buf);
      if (!terminal) throw new Error('the connection ended before the command finished');
    } catch (e) {
      if (!terminal) {
        const aborted = controller.signal.aborted;
        this.emit({ type: 'failed', id: command.id, command: command.type, error: { kind: aborted ? 'aborted' : 'network', message: aborted ? 'stopped' : `engine connection: ${(e as Error).message}` } });
      }
    } finally {
      this.inflight.delete(controller);
    }
  }

  close(): void {
    this.closed = true;
    for (const c of this.inflight) c.abort();
    this.inflight.clear();
    this.listeners.clear();
  }
}
