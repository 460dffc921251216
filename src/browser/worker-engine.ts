// The engine behind the app's protocol, inside the module worker: one WebGPU device, at most one loaded model with
// its chat session, one running command (load or ask) that `stop` aborts, the OPFS model cache, and recovery
// from a lost device (a fresh device; the model is loaded again on request, from the cache).
import { ChatSession } from '../chat/session.js';
import { systemFromCheckpoint } from '../chat/systems.js';
import { openCheckpoint } from '../model/checkpoint.js';
import { parseModelConfig } from '../model/config.js';
import { formatBytes } from '../util/format.js';
import { VilavtModel } from '../model/vilavt-model.js';
import { browserImageDecoder } from '../platform/browser-image.js';
import { Gpu } from '../runtime/device.js';
import { loadTextAssets } from '../text/tokenizer-files.js';
import { AppError, toEngineError } from '../app/errors.js';
import { fitReport } from '../app/fit.js';
import { ProgressMeter } from '../app/progress-meter.js';
import {
  PROTOCOL_VERSION, type AskRequest, type AskSummary, type EngineCommand, type EngineEvent, type EngineInfo, type LoadedModel,
  type LoadOptions, type LoadProgress, type ModelSource,
} from '../app/protocol.js';
import { ModelCache } from './model-cache.js';
import { cachedFiles, folderFiles, type ModelFiles } from './model-files.js';
import { UrlFiles } from './url-files.js';

/** KV cache capacity of the app's conversations (tokens): room for several zooms and follow-ups. */
export const APP_CONTEXT_TOKENS = 16384;
const PROGRESS_EVERY_MS = 100;

interface Loaded {
  model: VilavtModel;
  session: ChatSession;
  info: LoadedModel;
  newSession(): ChatSession;
}

function adapterWords(gpu: Gpu): string {
  const a = gpu.adapter;
  const name = [a.vendor, a.architecture, a.description].filter(Boolean).join(' / ') || 'unknown adapter';
  return `${name}${a.isFallbackAdapter ? ' (fallback)' : ''}`;
}

export class WorkerEngine {
  private gpu: Gpu | null = null;
  private cache: ModelCache | null = null;
  private cacheProblem: string | null = null;
  private loaded: Loaded | null = null;
  private running: { id: number; controller: AbortController } | null = null;
  private unavailable: string | null = null;
  /** Cache key of the model being loaded (it cannot be deleted meanwhile). */
  private loadingKey: string | null = null;

  private started: Promise<void> | null = null;

  constructor(private readonly post: (e: EngineEvent) => void) {}

  /** Opens the cache and the device; commands that arrive before wait for it. */
  start(): Promise<void> {
    return (this.started ??= this.init());
  }

  private async init(): Promise<void> {
    try {
      this.cache = await ModelCache.open();
    } catch (e) {
      this.cacheProblem = (e as Error).message;
    }
    await this.newDevice();
  }

  private async newDevice(): Promise<void> {
    try {
      if (!navigator.gpu) throw new Error('WebGPU is not available in this browser (navigator.gpu is missing in the worker; on Linux Chrome needs --enable-unsafe-webgpu)');
      const gpu = await Gpu.create({ gpu: navigator.gpu });
      this.gpu = gpu;
      this.unavailable = null;
      void gpu.device.lost.then((info) => this.onDeviceLost(gpu, info));
    } catch (e) {
      this.gpu = null;
      this.unavailable = (e as Error).message;
    }
    this.post({ type: 'hello', info: this.info() });
  }

  private info(): EngineInfo {
    return {
      protocol: PROTOCOL_VERSION, kind: 'worker', adapter: this.gpu ? adapterWords(this.gpu) : null, f16: this.gpu?.features.f16 ?? false,
      sources: this.cache ? ['url', 'cache', 'folder'] : ['url', 'folder'], cache: this.cache !== null,
      ...(this.unavailable ? { unavailable: this.unavailable } : {}),
    };
  }

  private onDeviceLost(gpu: Gpu, info: GPUDeviceLostInfo): void {
    if (this.gpu !== gpu) return;
    const had = this.loaded?.info.name;
    this.loaded = null; // its buffers died with the device
    this.gpu = null;
    this.post({
      type: 'device_lost',
      message: `The GPU device was lost (${info.reason}${info.message ? `: ${info.message}` : ''}). ` +
        (had ? `The model ${had} was unloaded; load it again (from the cache, no download) to continue.` : 'Load a model to continue.'),
    });
    void this.newDevice();
  }

  /** Test hook: lose the device for real (GPUDevice.destroy), as a driver reset would. */
  loseDevice(): void {
    this.gpu?.device.destroy();
  }

  handle(cmd: EngineCommand): void {
    void this.start().then(() => this.dispatch(cmd));
  }

  private dispatch(cmd: EngineCommand): void {
    const reply = (p: Promise<unknown>) => p.then(
      (result) => this.post({ type: 'done', id: cmd.id, command: cmd.type, result } as EngineEvent),
      (e: unknown) => this.post({ type: 'failed', id: cmd.id, command: cmd.type, error: toEngineError(e) }),
    );
    switch (cmd.type) {
      case 'load': void reply(this.exclusive(cmd.id, (s) => this.load(cmd.id, cmd.source, cmd.options ?? {}, s))); return;
      case 'ask': void reply(this.exclusive(cmd.id, (s) => this.ask(cmd.id, cmd.request, s))); return;
      case 'stop':
        this.running?.controller.abort(new DOMException('stopped by the user', 'AbortError'));
        void reply(Promise.resolve(null));
        return;
      case 'new_chat': void reply(this.newChat()); return;
      case 'list_models': void reply(this.requireCache().then((c) => c.list())); return;
      case 'delete_model': void reply(this.deleteModel(cmd.key)); return;
      default:
        this.post({ type: 'failed', id: (cmd as { id: number }).id, command: (cmd as { type: EngineCommand['type'] }).type, error: { kind: 'unsupported', message: `unknown command ${JSON.stringify((cmd as { type: unknown }).type)}` } });
    }
  }

  private async exclusive<T>(id: number, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (this.running) throw new AppError('busy', 'the engine is busy (a model is loading or a question is being answered): stop it first');
    const controller = new AbortController();
    this.running = { id, controller };
    try {
      return await run(controller.signal);
    } finally {
      this.running = null;
    }
  }

  private async requireCache(): Promise<ModelCache> {
    if (!this.cache) throw new AppError('unsupported', `no model cache in this browser: ${this.cacheProblem ?? 'unknown reason'}`);
    return this.cache;
  }

  private async deleteModel(key: string): Promise<null> {
    const cache = await this.requireCache();
    if (this.running && this.loadingKey === key) throw new AppError('busy', 'that model is being loaded: stop the load first');
    await cache.delete(key);
    return null;
  }

  private async newChat(): Promise<null> {
    if (this.running) throw new AppError('busy', 'stop the running question first');
    if (this.loaded) {
      this.loaded.session.close(); // frees the KV cache and decode state
      this.loaded.session = this.loaded.newSession();
    }
    return null;
  }

  private async openFiles(source: ModelSource, signal: AbortSignal): Promise<ModelFiles> {
    switch (source.kind) {
      case 'folder':
        return folderFiles(source.files);
      case 'cache': {
        const entry = await (await this.requireCache()).byKey(source.key);
        if (!entry) throw new AppError('bad_input', 'that model is no longer in the cache');
        if (!entry.meta.complete) return new UrlFiles(entry, signal); // an interrupted download: resume it
        return cachedFiles(entry);
      }
      case 'url': {
        let url: string;
        try {
          url = new URL(source.url.endsWith('/') ? source.url : `${source.url}/`, self.location.href).href;
        } catch {
          throw new AppError('bad_input', `not a URL: ${JSON.stringify(source.url)}`);
        }
        if (!this.cache) throw new AppError('unsupported', `cannot load from a URL without the model cache: ${this.cacheProblem}`);
        const entry = await this.cache.forUrl(url);
        return entry.meta.complete ? cachedFiles(entry) : new UrlFiles(entry, signal);
      }
      case 'server':
        throw new AppError('unsupported', 'this engine runs in the browser: there is no server model');
    }
  }

  private async load(id: number, source: ModelSource, options: LoadOptions, signal: AbortSignal): Promise<LoadedModel> {
    const t0 = performance.now();
    const gpu = this.gpu;
    if (!gpu) throw new AppError('unsupported', this.unavailable ?? 'no WebGPU device');
    const act = options.activations ?? 'f32';
    if (act === 'f16' && !gpu.features.f16) throw new AppError('unsupported', 'f16 activations need shader-f16, which this adapter does not offer');
    if (this.loaded) { // one model at a time
      this.loaded.session.close();
      this.loaded.model.destroy();
      this.loaded = null;
    }
    const files = await this.openFiles(source, signal);
    this.loadingKey = files.cacheKey;
    const meter = new ProgressMeter();
    let tensors: [number, number] = [0, 0];
    let bytesTotal = 0;
    let phase: LoadProgress['phase'] = 'checking';
    let detail = `reading ${files.label}`;
    let lastPost = 0;
    const progress = (force = false) => {
      const now = performance.now();
      if (!force && now - lastPost < PROGRESS_EVERY_MS) return;
      lastPost = now;
      const done = files.bytesDone;
      const rate = meter.update(files instanceof UrlFiles ? files.downloaded : done);
      this.post({
        type: 'progress', id,
        progress: { phase, bytesDone: done, bytesTotal, tensorsDone: tensors[0], tensorsTotal: tensors[1], bytesPerSecond: rate, etaSeconds: ProgressMeter.eta(bytesTotal - done, rate), detail },
      });
    };
    const timer = setInterval(() => progress(), 250); // also while the loader waits on the network
    try {
      progress(true);
      // Config first: whether the model fits is said before anything large is fetched.
      const configText = await files.readText('config.json');
      if (configText === null) throw new AppError('bad_input', `${files.label}: no config.json (is this a model folder?)`);
      const configJson: unknown = JSON.parse(configText);
      const config = parseModelConfig(configJson, 'config.json');
      const system = systemFromCheckpoint(configJson, files.label.replace(/\/+$/, '').split('/').pop());
      const fit = fitReport(config, {
        limits: { maxBufferSize: gpu.limits.maxBufferSize, maxStorageBufferBindingSize: gpu.maxBindingBytes },
        activations: act, contextTokens: Math.min(APP_CONTEXT_TOKENS, config.llm.maxPositionEmbeddings), adapter: adapterWords(gpu),
      });
      if (!fit.fits) throw new AppError('wont_fit', fit.words);
      this.post({ type: 'notice', id, message: fit.words });
      const weights = await files.weightFiles();
      bytesTotal = weights.reduce((n, w) => n + w.size, 0);
      const text = await loadTextAssets(files.readText);
      if (files instanceof UrlFiles) await this.checkQuota(id, files, bytesTotal);
      if (signal.aborted) throw signal.reason;
      phase = files instanceof UrlFiles ? 'downloading' : 'loading';
      detail = files instanceof UrlFiles ? `downloading ${formatBytes(bytesTotal)} into the browser cache while loading` : `reading ${formatBytes(bytesTotal)}`;
      const ckpt = await openCheckpoint(files.resolve);
      const model = await VilavtModel.load(gpu, ckpt, {
        activations: act,
        onProgress: (done, total, name) => {
          tensors = [done, total];
          detail = name;
          if (signal.aborted) throw signal.reason; // the loader destroys what it uploaded
          progress();
        },
      });
      try {
        detail = 'finishing the download';
        await files.finish();
        if (signal.aborted) throw signal.reason;
      } catch (e) {
        model.destroy();
        throw e;
      }
      progress(true);
      const contextLength = Math.min(APP_CONTEXT_TOKENS, config.llm.maxPositionEmbeddings);
      const newSession = () => new ChatSession({ gpu, model, tokenizer: text.tokenizer, inquiryTokenizer: text.inquiry, chatTemplate: text.chatTemplate, imageDecoder: browserImageDecoder, contextLength });
      const llm = ckpt.config.llm;
      const info: LoadedModel = {
        source: files.origin, loadMs: Math.round(performance.now() - t0), name: files.label, cacheKey: files.cacheKey,
        description: `${ckpt.tensors.size} tensors, LLM ${llm.layers} layers × ${llm.hidden}, ${act} activations, ${formatBytes(bytesTotal)} of weights`,
        activations: act, weightBytes: bytesTotal, warnings: ckpt.warnings, system,
      };
      this.loaded = { model, session: newSession(), info, newSession };
      return info;
    } finally {
      clearInterval(timer);
      files.dispose();
      this.loadingKey = null;
    }
  }

  private async checkQuota(id: number, files: UrlFiles, total: number): Promise<void> {
    const est = await navigator.storage.estimate();
    const stored = await files.storedWeightBytes();
    const need = total - stored;
    const quota = est.quota ?? 0;
    const usage = est.usage ?? 0;
    const free = Math.max(0, quota - usage);
    if (need > free) {
      throw new AppError('quota', `The model needs ${formatBytes(need)} more of browser storage${stored ? ` (${formatBytes(stored)} is already cached)` : ''}, ` +
        `but only ${formatBytes(free)} is available (quota ${formatBytes(quota)}, ${formatBytes(usage)} used). Delete cached models or free disk space.`);
    }
    const persistent = await navigator.storage.persisted?.().catch(() => false);
    this.post({
      type: 'notice', id,
      message: `Caching ${formatBytes(total)} in this browser (${stored ? `${formatBytes(stored)} already stored, ` : ''}${formatBytes(need)} to download; ` +
        `${formatBytes(free)} available). ${persistent ? 'Storage is persistent: the browser will not evict it.' : 'Storage is not persistent: the browser may evict the cache when disk space runs low.'}`,
    });
  }

  private async ask(id: number, req: AskRequest, signal: AbortSignal): Promise<AskSummary> {
    const loaded = this.loaded;
    if (!loaded) throw new AppError('bad_input', this.gpu ? 'no model is loaded' : 'no model is loaded (the GPU device was lost: load the model again)');
    const system = req.system ?? loaded.info.system ?? 'vilavt';
    // Only ViLaVT's loop continues a conversation; another system answers each message on its own.
    const followUp = system === 'vilavt' && loaded.session.hasConversation;
    if (!followUp && req.images.length === 0) throw new AppError('bad_input', 'the first message of a chat needs at least one image');
    let summary: AskSummary | null = null;
    for await (const e of loaded.session.ask({
      images: req.images.map((im) => ({ name: im.name, image: im.bytes })), question: req.question, sampling: req.sampling,
      maxRounds: req.maxRounds, maxNewTokens: req.maxNewTokens, replay: req.replay, signal, followUp, system,
    })) {
      this.post({ type: 'chat', id, event: e });
      if (e.type === 'done') summary = { answer: e.answer, rounds: e.rounds, stopReason: e.stop_reason };
    }
    if (!summary) throw new AppError('internal', 'the trajectory ended without a done event');
    return summary;
  }
}
