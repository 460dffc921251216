// The server side of the app's engine protocol (src/app/protocol.ts) for `vilavt app`: one conversation (the
// window's), the model the server was started with, commands run through the server's one queue so the app and
// OpenAI clients take turns on the GPU. Routes: GET /app/v1/hello, POST /app/v1/command (JSON lines of that
// command's events). A page that goes away cancels its running command.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError, toEngineError } from '../app/errors.js';
import { fromJsonWire, PROTOCOL_VERSION, toJsonWire, type AskRequest, type AskSummary, type EngineCommand, type EngineEvent, type EngineInfo, type LoadedModel } from '../app/protocol.js';
import type { ChatSession } from '../chat/session.js';
import { ApiError, isDeviceLost } from './api-error.js';
import type { JobQueue } from './job-queue.js';
import type { ServerEngine } from './server.js';

export class AppHost {
  private session: ChatSession | null = null;
  private running: AbortController | null = null;

  /** `onDeviceLost` runs inside the failing command's queue slot (the server reloads the model there). */
  constructor(private readonly engine: ServerEngine, private readonly queue: JobQueue, private readonly onDeviceLost: () => Promise<void> = async () => {}) {}

  /** Forget the window's conversation (its session belongs to a lost device; the ask on it has ended). */
  dropSession(): void {
    const s = this.session;
    this.session = null;
    try {
      s?.close();
    } catch {
      // still answering: that ask ends with the loss and its session is gone with the device
    }
  }

  private info(): EngineInfo {
    return { protocol: PROTOCOL_VERSION, kind: 'remote', adapter: this.engine.info.adapter, f16: this.engine.info.f16, sources: ['server'], cache: false };
  }

  hello(res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(toJsonWire({ type: 'hello', info: this.info() } satisfies EngineEvent)));
  }

  async command(_req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    let cmd: EngineCommand;
    try {
      cmd = fromJsonWire<EngineCommand>(JSON.parse(body.toString('utf8')));
    } catch (e) {
      throw new ApiError(400, 'invalid_request_error', `the command is not valid JSON: ${(e as Error).message}`);
    }
    if (cmd === null || typeof cmd !== 'object' || typeof cmd.type !== 'string' || !Number.isSafeInteger(cmd.id)) {
      throw new ApiError(400, 'invalid_request_error', 'a command needs a numeric id and a type');
    }
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
    const post = (e: EngineEvent) => {
      if (!res.destroyed) res.write(`${JSON.stringify(toJsonWire(e))}\n`);
    };
    const controller = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) controller.abort(new DOMException('the page went away', 'AbortError'));
    });
    try {
      const result = await this.run(cmd, post, controller);
      post({ type: 'done', id: cmd.id, command: cmd.type, result } as EngineEvent);
    } catch (e) {
      post({ type: 'failed', id: cmd.id, command: cmd.type, error: e instanceof ApiError && e.status === 429 ? { kind: 'busy', message: e.message } : toEngineError(e) });
    }
    res.end();
  }

  private run(cmd: EngineCommand, post: (e: EngineEvent) => void, controller: AbortController): Promise<unknown> {
    switch (cmd.type) {
      case 'load':
        if (cmd.source?.kind !== 'server') throw new AppError('unsupported', 'this engine serves the model it was started with: load {kind: "server"}');
        return Promise.resolve(this.loaded());
      case 'ask':
        return this.exclusive(controller, () => this.queue.run(() => this.ask(cmd.id, cmd.request, post, controller.signal), controller.signal));
      case 'stop':
        this.running?.abort(new DOMException('stopped by the user', 'AbortError'));
        return Promise.resolve(null);
      case 'new_chat':
        if (this.running) throw new AppError('busy', 'stop the running question first');
        this.session?.close();
        this.session = null;
        return Promise.resolve(null);
      case 'list_models':
        return Promise.resolve([]);
      case 'delete_model':
        throw new AppError('unsupported', 'the local server has no model cache');
      default:
        throw new AppError('unsupported', `unknown command ${JSON.stringify((cmd as { type: unknown }).type)}`);
    }
  }

  private loaded(): LoadedModel {
    const i = this.engine.info;
    return { source: 'server', loadMs: i.loadMs, name: this.engine.modelId, cacheKey: null, description: i.description, activations: i.activations, weightBytes: i.weightBytes, warnings: [] };
  }

  private async exclusive<T>(controller: AbortController, run: () => Promise<T>): Promise<T> {
    if (this.running) throw new AppError('busy', 'the engine is busy answering a question: stop it first');
    this.running = controller;
    try {
      return await run();
    } finally {
      this.running = null;
    }
  }

  private async ask(id: number, req: AskRequest, post: (e: EngineEvent) => void, signal: AbortSignal): Promise<AskSummary> {
    if (!req || typeof req.question !== 'string' || !Array.isArray(req.images)) throw new AppError('bad_input', 'ask needs {question, images}');
    const session = (this.session ??= this.engine.newSession());
    const followUp = session.hasConversation;
    if (!followUp && req.images.length === 0) throw new AppError('bad_input', 'the first message of a chat needs at least one image');
    let summary: AskSummary | null = null;
    try {
      for await (const e of session.ask({
        images: req.images.map((im) => ({ name: im.name, image: im.bytes })), question: req.question, sampling: req.sampling,
        maxRounds: req.maxRounds, maxNewTokens: req.maxNewTokens, replay: req.replay, signal, followUp,
      })) {
        post({ type: 'chat', id, event: e });
        if (e.type === 'done') summary = { answer: e.answer, rounds: e.rounds, stopReason: e.stop_reason };
      }
    } catch (e) {
      if (isDeviceLost(e)) await this.onDeviceLost(); // drops this session too
      throw e;
    }
    if (!summary) throw new AppError('internal', 'the trajectory ended without a done event');
    return summary;
  }
}
