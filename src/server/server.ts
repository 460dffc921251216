// `vilavt serve`: the OpenAI chat API over one loaded model, on Node's own http module.
//   POST /v1/chat/completions   (stream or not; the whole chatting-with-images loop per request)
//   GET  /v1/models, /v1/models/{id}, /health
// Requests run one at a time from a bounded queue; a client that disconnects cancels its generation; every
// failure is OpenAI-style error JSON with a 4xx/5xx status (api-error.ts).
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ChatSession, HistoryExchange } from '../chat/session.js';
import type { RgbImage } from '../preprocess/image.js';
import { ApiError, badRequest, isDeviceLost, toApiError } from './api-error.js';
import { bodyTooLarge, parseChatRequest, type ChatRequest, type RequestLimits, type RequestMessage } from './chat-request.js';
import { CompletionBuilder, type CompletionSink, type ConversationSource } from './completion.js';
import { ConversationStore, historyKey } from './conversation-store.js';
import { AppHost } from './app-host.js';
import { JobQueue } from './job-queue.js';

/** The loaded model the server drives. */
export interface ServerEngine {
  /** The id clients send as `model`. */
  modelId: string;
  /** A session with an empty conversation (owns a KV cache). */
  newSession(): ChatSession;
  encodePng(img: RgbImage): Promise<Uint8Array>;
  /** What the app's engine protocol reports about the model and adapter. */
  info: { adapter: string; f16: boolean; activations: 'f32' | 'f16'; loadMs: number; description: string; weightBytes: number };
  /**
   * After the GPU device was lost: load the model again on a new device (sessions of the old one are dead and are
   * dropped first). Without it every later request fails with the loss.
   */
  recover?(): Promise<void>;
}

export interface ServerLimits extends RequestLimits {
  maxBodyBytes: number;
}

export interface ServerOptions {
  engine: ServerEngine;
  /** Bearer token required on /v1/* (null: none). */
  apiKey: string | null;
  limits: ServerLimits;
  /** Requests that may wait behind the running one. */
  maxQueue: number;
  /** Finished conversations kept for continuation. */
  maxConversations: number;
  /** The chat app's static files by path (`vilavt app`): served at `/`, the page drives the engine at /app/v1/. */
  site?: ReadonlyMap<string, Uint8Array>;
}

const SITE_TYPES: Record<string, string> = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };

/** OpenAI's status for a request the client abandoned is moot; 499 is what proxies log. */
function sendError(res: ServerResponse, e: ApiError): void {
  if (res.headersSent) return;
  res.writeHead(e.status, { 'content-type': 'application/json', ...e.headers }).end(JSON.stringify(e.body()));
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

/** The request body, at most `limit` bytes (413 beyond, after draining what the client still sends). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      drain(req, limit);
      reject(bodyTooLarge(limit));
      return;
    }
    const parts: Buffer[] = [];
    let size = 0;
    const onData = (b: Buffer) => {
      size += b.length;
      if (size > limit) {
        req.off('data', onData);
        drain(req, limit);
        reject(bodyTooLarge(limit));
        return;
      }
      parts.push(b);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

/** Discard the rest of a refused body so the client can read the error; cut the connection past 4x the limit. */
function drain(req: IncomingMessage, limit: number): void {
  let n = 0;
  req.on('data', (b: Buffer) => {
    n += b.length;
    if (n > 4 * limit) req.destroy();
  });
  req.resume();
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The conversation shape the loop runs: optional system text, then user/assistant exchanges ending with a user message. */
interface ConversationPlan {
  systemNote: string | undefined;
  history: { user: RequestMessage; assistant: RequestMessage }[];
  last: RequestMessage;
}

function planConversation(messages: readonly RequestMessage[]): ConversationPlan {
  let i = 0;
  const system: string[] = [];
  while (i < messages.length && messages[i]!.role === 'system') system.push(messages[i++]!.text);
  // Consecutive messages of one role are one turn.
  const turns: RequestMessage[] = [];
  for (; i < messages.length; i++) {
    const m = messages[i]!;
    if (m.role === 'system') throw badRequest('system messages are only supported at the start of the conversation', `messages[${i}]`);
    const prev = turns[turns.length - 1];
    if (prev && prev.role === m.role) turns[turns.length - 1] = { role: m.role, text: `${prev.text}\n${m.text}`, images: [...prev.images, ...m.images] };
    else turns.push(m);
  }
  if (turns[0]?.role !== 'user') throw badRequest('the conversation must start with a user message (after any system messages)', 'messages');
  const history: ConversationPlan['history'] = [];
  for (let t = 0; t + 1 < turns.length; t += 2) history.push({ user: turns[t]!, assistant: turns[t + 1]! });
  return { systemNote: system.length ? system.join('\n') : undefined, history, last: turns[turns.length - 1]! };
}

const toChatImages = (m: RequestMessage) => m.images.map((im) => ({ image: im.bytes, name: im.name }));

export class VilavtServer {
  readonly http: Server;
  private readonly queue: JobQueue;
  private readonly store: ConversationStore;
  private readonly app: AppHost;
  private readonly created = Math.floor(Date.now() / 1000);
  /** Chat completions by outcome (GET /health). */
  private readonly counts = { completed: 0, cancelled: 0, failed: 0 };
  /** Device losses seen and the model reloads after them (GET /health). */
  private readonly device = { lost: 0, reloaded: 0, reload_error: null as string | null };

  constructor(private readonly o: ServerOptions) {
    this.queue = new JobQueue(o.maxQueue);
    this.store = new ConversationStore(o.maxConversations);
    this.app = new AppHost(o.engine, this.queue, () => this.afterDeviceLoss());
    this.http = createServer((req, res) => {
      this.route(req, res).catch((e: unknown) => sendError(res, toApiError(e)));
    });
  }

  /** Listen; resolves with the base URL (port 0 picks a free port). */
  listen(port: number, host: string): Promise<string> {
    return new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        this.http.off('error', reject);
        const a = this.http.address() as AddressInfo;
        resolve(`http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`);
      });
    });
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.http.close(() => resolve());
      this.http.closeAllConnections();
    });
    this.store.closeAll();
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path === '/health') {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new ApiError(405, 'invalid_request_error', 'use GET');
      sendJson(res, 200, {
        status: 'ok', model: this.o.engine.modelId,
        queue: { running: this.queue.busy, waiting: this.queue.length, limit: this.o.maxQueue },
        conversations: this.store.stats, requests: this.counts, device: this.device,
      });
      return;
    }
    if (path.startsWith('/v1/')) {
      this.authorize(req);
      if (path === '/v1/chat/completions') {
        if (req.method !== 'POST') throw new ApiError(405, 'invalid_request_error', 'use POST');
        await this.chat(req, res);
        return;
      }
      if (path === '/v1/models' || path.startsWith('/v1/models/')) {
        if (req.method !== 'GET') throw new ApiError(405, 'invalid_request_error', 'use GET');
        const model = { id: this.o.engine.modelId, object: 'model', created: this.created, owned_by: 'vilavt' };
        if (path === '/v1/models') return sendJson(res, 200, { object: 'list', data: [model] });
        const id = decodeURIComponent(path.slice('/v1/models/'.length));
        if (id !== model.id) throw this.unknownModel(id);
        return sendJson(res, 200, model);
      }
    }
    if (path.startsWith('/app/v1/')) {
      this.authorize(req);
      if (path === '/app/v1/hello' && req.method === 'GET') return this.app.hello(res);
      if (path === '/app/v1/command' && req.method === 'POST') return this.app.command(req, res, await readBody(req, this.o.limits.maxBodyBytes));
    }
    const file = this.o.site?.get(path === '/' ? 'index.html' : path.slice(1));
    if (file && (req.method === 'GET' || req.method === 'HEAD')) {
      res.writeHead(200, { 'content-type': SITE_TYPES[path.split('.').pop() ?? ''] ?? SITE_TYPES.html!, 'cache-control': 'no-store', 'content-length': String(file.byteLength) });
      res.end(req.method === 'HEAD' ? undefined : file);
      return;
    }
    throw new ApiError(404, 'invalid_request_error', `no route ${req.method} ${path}`, 'not_found');
  }

  private unknownModel(id: string): ApiError {
    return new ApiError(404, 'invalid_request_error', `the model '${id}' does not exist; this server has '${this.o.engine.modelId}'`, 'model_not_found', 'model');
  }

  private authorize(req: IncomingMessage): void {
    if (this.o.apiKey === null) return;
    const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
    if (!m || !sameSecret(m[1]!.trim(), this.o.apiKey)) {
      throw new ApiError(401, 'invalid_request_error', m ? 'incorrect API key' : 'missing API key: send Authorization: Bearer KEY', 'invalid_api_key');
    }
  }

  /** Drop every session of the lost device and load the model on a new one (run inside a queue slot). */
  private async afterDeviceLoss(): Promise<void> {
    this.device.lost++;
    this.store.closeAll();
    this.app.dropSession();
    if (!this.o.engine.recover) return;
    try {
      await this.o.engine.recover();
      this.device.reloaded++;
      this.device.reload_error = null;
    } catch (e) {
      // The request already fails with the loss; the next one that meets the dead device tries again.
      this.device.reload_error = e instanceof Error ? e.message : String(e);
    }
  }

  private async chat(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req, this.o.limits.maxBodyBytes);
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch (e) {
      throw badRequest(`the request body is not valid JSON: ${(e as Error).message}`);
    }
    const r = await parseChatRequest(body, this.o.limits);
    if (r.model !== this.o.engine.modelId) throw this.unknownModel(r.model);
    const plan = planConversation(r.messages);

    const controller = new AbortController();
    // 'close' before the response finished: the client went away (socket closed, fetch aborted).
    res.on('close', () => {
      if (!res.writableFinished) controller.abort(new DOMException('the client disconnected', 'AbortError'));
    });
    try {
      await this.queue.run(() => this.complete(r, plan, res, controller.signal), controller.signal);
      this.counts.completed++;
    } catch (e) {
      if (controller.signal.aborted) this.counts.cancelled++;
      else this.counts.failed++;
      throw e;
    }
  }

  private async complete(r: ChatRequest, plan: ConversationPlan, res: ServerResponse, signal: AbortSignal): Promise<void> {
    const id = `chatcmpl-${randomBytes(12).toString('hex')}`;
    const created = Math.floor(Date.now() / 1000);
    const model = this.o.engine.modelId;
    const stream = r.stream ? new SseStream(res, id, created, model) : null;
    const builder = new CompletionBuilder(stream, r.ext.crops ? this.o.engine.encodePng : null);

    const previousKey = historyKey(r.messages.slice(0, -1));
    let session = this.store.take(previousKey);
    let source: ConversationSource = 'continued';
    if (!session) {
      session = this.o.engine.newSession();
      source = plan.history.length ? 'rebuilt' : 'new';
    }
    const history: HistoryExchange[] = plan.history.map((h) => ({ images: toChatImages(h.user), question: h.user.text, answer: h.assistant.text }));
    try {
      const events = session.ask({
        images: toChatImages(plan.last), question: plan.last.text, problemType: r.ext.problemType, options: r.ext.options,
        sampling: r.sampling, maxNewTokens: r.maxTokens, maxRounds: r.ext.maxRounds, replay: r.ext.replay, signal,
        followUp: source === 'continued', history: source === 'rebuilt' ? history : undefined, systemNote: plan.systemNote,
      });
      for await (const e of events) await builder.add(e);
    } catch (e) {
      // A failed or cancelled follow-up leaves the conversation as it was before it (ChatSession restores it):
      // keep it for a retry; a new conversation that failed has nothing to continue.
      if (source === 'continued' && session.hasConversation && !isDeviceLost(e)) this.store.put(previousKey, session);
      else session.close();
      if (stream?.started) stream.fail(toApiError(e));
      // Still inside this request's queue slot: later requests wait for the new device.
      if (isDeviceLost(e)) await this.afterDeviceLoss();
      throw e;
    }
    const content = builder.content;
    this.store.put(historyKey([...r.messages, { role: 'assistant', text: content, images: [] }]), session);

    const usage = builder.usage();
    const vilavt = builder.extension(source);
    if (stream) {
      stream.finish(builder.finishReason, r.includeUsage ? usage : null, { answer: vilavt.answer, stop_reason: vilavt.stop_reason, conversation: source, usage });
      return;
    }
    sendJson(res, 200, {
      id, object: 'chat.completion', created, model, system_fingerprint: null,
      choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, logprobs: null, finish_reason: builder.finishReason }],
      usage, vilavt,
    });
  }
}

/** Server-sent events in OpenAI's chunk format; the headers go out with the first chunk, so errors before it get a status. */
class SseStream implements CompletionSink {
  started = false;

  constructor(private readonly res: ServerResponse, private readonly id: string, private readonly created: number, private readonly model: string) {}

  private send(obj: unknown): void {
    if (!this.started) {
      this.started = true;
      this.res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
      // OpenAI's first chunk carries the role.
      this.write({ ...this.head(), choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }] });
    }
    this.write(obj);
  }

  private write(obj: unknown): void {
    this.res.write(`data: ${JSON.stringify(obj)}\n\n`);
  }

  private head(): Record<string, unknown> {
    return { id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, system_fingerprint: null };
  }

  private chunk(choices: unknown[], extra: Record<string, unknown> = {}): void {
    this.send({ ...this.head(), choices, ...extra });
  }

  content(delta: string): void {
    this.chunk([{ index: 0, delta: { content: delta }, logprobs: null, finish_reason: null }]);
  }

  extension(e: unknown): void {
    this.chunk([], { vilavt: e });
  }

  finish(reason: 'stop' | 'length', usage: unknown, summary: Record<string, unknown>): void {
    this.chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: reason }]);
    if (usage) this.chunk([], { usage });
    this.chunk([], { vilavt: { type: 'done', ...summary } });
    this.res.end('data: [DONE]\n\n');
  }

  /** An error after the stream started: one `error` event (the openai client raises it), then the end. */
  fail(e: ApiError): void {
    if (this.res.destroyed) return;
    this.res.end(`data: ${JSON.stringify(e.body())}\n\n`);
  }
}
