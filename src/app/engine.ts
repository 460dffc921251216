// Request/reply on top of any EngineClient (worker or remote): numbers the commands, routes each command's events
// to its caller and settles one promise per command from its terminal `done` / `failed` reply.
import type {
  AskRequest, AskSummary, CachedModel, EngineClient, EngineCommand, EngineError, EngineErrorKind, EngineEvent, EngineInfo,
  LoadedModel, LoadOptions, LoadProgress, ModelSource, WireChatEvent,
} from './protocol.js';

/** A command's `failed` reply as an exception. */
export class EngineCommandError extends Error {
  readonly kind: EngineErrorKind;
  constructor(e: EngineError) {
    super(e.message);
    this.name = 'EngineCommandError';
    this.kind = e.kind;
  }
}

type Pending = {
  resolve: (v: unknown) => void;
  reject: (e: EngineCommandError) => void;
  onEvent?: (e: EngineEvent) => void;
};

/** Distributive Omit, so each command keeps its own fields. */
type CommandBody = EngineCommand extends infer C ? (C extends EngineCommand ? Omit<C, 'id'> : never) : never;

export class Engine {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly unlisten: () => void;
  private latestInfo: EngineInfo | null = null;
  private readonly infoWaiters: ((i: EngineInfo) => void)[] = [];
  /** Called on every `hello` (start, and a new device after a loss). */
  onInfo: ((info: EngineInfo) => void) | null = null;
  /** Called when the GPU device is lost; the loaded model is gone. */
  onDeviceLost: ((message: string) => void) | null = null;

  constructor(readonly client: EngineClient) {
    this.unlisten = client.listen((e) => this.dispatch(e));
  }

  /** The engine's description (waits for its first `hello`). */
  info(): Promise<EngineInfo> {
    if (this.latestInfo) return Promise.resolve(this.latestInfo);
    return new Promise((ok) => this.infoWaiters.push(ok));
  }

  load(source: ModelSource, options: LoadOptions = {}, hooks: { onProgress?: (p: LoadProgress) => void; onNotice?: (m: string) => void } = {}): Promise<LoadedModel> {
    return this.request({ type: 'load', source, options }, (e) => {
      if (e.type === 'progress') hooks.onProgress?.(e.progress);
      else if (e.type === 'notice') hooks.onNotice?.(e.message);
    }) as Promise<LoadedModel>;
  }

  ask(request: AskRequest, onEvent: (e: WireChatEvent) => void): Promise<AskSummary> {
    return this.request({ type: 'ask', request }, (e) => { if (e.type === 'chat') onEvent(e.event); }) as Promise<AskSummary>;
  }

  async stop(): Promise<void> { await this.request({ type: 'stop' }); }
  async newChat(): Promise<void> { await this.request({ type: 'new_chat' }); }
  listModels(): Promise<CachedModel[]> { return this.request({ type: 'list_models' }) as Promise<CachedModel[]>; }
  async deleteModel(key: string): Promise<void> { await this.request({ type: 'delete_model', key }); }

  close(): void {
    this.unlisten();
    for (const p of this.pending.values()) p.reject(new EngineCommandError({ kind: 'aborted', message: 'the engine was closed' }));
    this.pending.clear();
    this.client.close();
  }

  private request(body: CommandBody, onEvent?: (e: EngineEvent) => void): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onEvent });
      this.client.send({ ...body, id } as EngineCommand);
    });
  }

  private dispatch(e: EngineEvent): void {
    switch (e.type) {
      case 'hello':
        this.latestInfo = e.info;
        for (const w of this.infoWaiters.splice(0)) w(e.info);
        this.onInfo?.(e.info);
        return;
      case 'device_lost':
        this.onDeviceLost?.(e.message);
        return;
      case 'done':
      case 'failed': {
        const p = this.pending.get(e.id);
        if (!p) return;
        this.pending.delete(e.id);
        if (e.type === 'done') p.resolve(e.result);
        else p.reject(new EngineCommandError(e.error));
        return;
      }
      default:
        this.pending.get(e.id)?.onEvent?.(e);
    }
  }
}
