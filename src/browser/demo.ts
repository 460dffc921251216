// The browser demo (demo/index.html): load a checkpoint from a picked folder or over HTTP Range requests, ask a
// question about picked images, and watch the zoom loop stream: thoughts, tool calls, one card per zoom (the box on
// the original and the pixels the model sees), the answer and per-turn stats. The engine code is the platform-
// neutral one the Node CLI uses; this file only wires it to the DOM.
//
// Automation: `/?model=URL/&image=URL[&image=URL...][&replay=URL][&question=TEXT][&greedy=1&seed=N&temperature=T
// &top_p=P&max_rounds=N&max_new_tokens=N&f16=1]` loads and asks at once. Progress and the outcome are published as
// `window.__vilavtDemo` (events without pixels) for headless tests.
import { parseReplayFile } from '../chat/replay-file.js';
import { ChatSession, type ChatEvent, type ReplayTurn } from '../chat/session.js';
import { openCheckpoint, type FileResolver } from '../model/checkpoint.js';
import { blobSource, httpRangeSource } from '../model/byte-source.js';
import { VilavtModel } from '../model/vilavt-model.js';
import { browserImageDecoder } from '../platform/browser-image.js';
import { toRgb, type DecodedImage } from '../preprocess/image.js';
import { Gpu } from '../runtime/device.js';
import type { ActDType } from '../runtime/dtype.js';
import { loadTextAssets, type ReadTextFile } from '../text/tokenizer-files.js';

/** A ChatEvent as published for automation: the region's pixels replaced by their size. */
export type DemoEvent = Exclude<ChatEvent, { type: 'region' }> | (Omit<Extract<ChatEvent, { type: 'region' }>, 'image'> & { type: 'region'; image: [number, number] });

export interface DemoReport {
  state: 'starting' | 'idle' | 'loading' | 'ready' | 'running' | 'done' | 'stopped' | 'error';
  adapter: string | null;
  f16Available: boolean;
  /** Tensors loaded / total of the latest load. */
  loaded: [number, number] | null;
  events: DemoEvent[];
  answer: string | null;
  error: string | null;
}

declare global {
  interface Window { __vilavtDemo?: DemoReport }
}

const report: DemoReport = { state: 'starting', adapter: null, f16Available: false, loaded: null, events: [], answer: null, error: null };
window.__vilavtDemo = report;

const $ = <T extends HTMLElement>(id: string): T => {
  const e = document.getElementById(id);
  if (!e) throw new Error(`demo page is missing #${id}`);
  return e as T;
};

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls = '', text = ''): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text) e.textContent = text;
  return e;
}

const ms = (x: number) => (x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${Math.round(x)} ms`);
const COLORS = ['#e11d48', '#16a34a', '#2563eb', '#f59e0b', '#c026d3', '#0891b2'];

// ---------- model sources ----------

interface ModelSource {
  /** Identity of the source (a new folder pick or URL is a new source). */
  key: string;
  label: string;
  resolve: FileResolver;
  readText: ReadTextFile;
}

let sourceCounter = 0;

function urlModelSource(base: string): ModelSource {
  const root = new URL(base.endsWith('/') ? base : `${base}/`, location.href);
  const url = (name: string) => new URL(encodeURIComponent(name), root).href;
  return {
    key: `url:${root.href}`,
    label: root.href,
    async resolve(name) {
      const head = await fetch(url(name), { method: 'HEAD' });
      if (head.status === 404) return null;
      return httpRangeSource(url(name));
    },
    async readText(name) {
      const r = await fetch(url(name));
      if (r.status === 404) return null;
      if (!r.ok) throw new Error(`${url(name)}: HTTP ${r.status}`);
      return r.text();
    },
  };
}

/** Files of a picked folder: only those directly inside it (`folder/name`). */
function folderModelSource(list: FileList): ModelSource {
  const all = Array.from(list);
  const depth = (f: File) => (f.webkitRelativePath || f.name).split('/').length;
  const top = Math.min(...all.map(depth));
  const files = new Map(all.filter((f) => depth(f) === top).map((f) => [f.name, f]));
  const folder = all[0]?.webkitRelativePath.split('/')[0] || `${files.size} files`;
  return {
    key: `files:${++sourceCounter}`,
    label: folder,
    async resolve(name) {
      const f = files.get(name);
      return f ? blobSource(f, name) : null;
    },
    async readText(name) {
      return (await files.get(name)?.text()) ?? null;
    },
  };
}

// ---------- state ----------

let gpu: Gpu | null = null;
let source: ModelSource | null = null;
let loaded: { key: string; model: VilavtModel; session: ChatSession } | null = null;
let loading: { key: string; done: Promise<void> } | null = null;
let images: { name: string; image: DecodedImage }[] = [];
let replay: ReplayTurn[] | null = null;
let running: AbortController | null = null;

function setState(s: DemoReport['state'], status?: string): void {
  report.state = s;
  if (status !== undefined) $('status').textContent = status;
  const busy = s === 'loading' || s === 'running' || s === 'starting';
  $<HTMLButtonElement>('ask').disabled = busy || gpu === null;
  $<HTMLButtonElement>('load').disabled = busy || gpu === null;
  $<HTMLButtonElement>('stop').disabled = s !== 'running';
}

function showError(e: unknown): void {
  const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  report.error = msg;
  const box = $('error');
  box.textContent = msg;
  box.hidden = false;
}

function clearError(): void {
  report.error = null;
  $('error').hidden = true;
}

// ---------- loading ----------

const activations = (): ActDType => ($<HTMLInputElement>('f16').checked ? 'f16' : 'f32');

async function ensureModel(): Promise<ChatSession> {
  if (!gpu) throw new Error('no WebGPU device');
  const url = $<HTMLInputElement>('model-url').value.trim();
  if (!source && url) source = urlModelSource(url); // a typed URL counts without pressing Load
  if (!source) throw new Error('pick a checkpoint folder or give its URL first');
  const key = `${source.key}|${activations()}`;
  if (loaded?.key === key) return loaded.session;
  if (running) throw new Error('stop the current question before loading another model');
  if (loading?.key !== key) loading = { key, done: load(gpu, source, activations(), key) };
  await loading.done;
  return loaded!.session;
}

async function load(g: Gpu, src: ModelSource, act: ActDType, key: string): Promise<void> {
  const progress = $<HTMLProgressElement>('progress');
  const status = $('load-status');
  setState('loading');
  try {
    if (loaded) {
      loaded.session.close();
      loaded.model.destroy(); // one model's weights at a time
      loaded = null;
    }
    progress.value = 0;
    status.textContent = `Reading ${src.label}…`;
    const t0 = performance.now();
    const text = await loadTextAssets(src.readText);
    const ckpt = await openCheckpoint(src.resolve);
    const model = await VilavtModel.load(g, ckpt, {
      activations: act,
      onProgress: (done, total, name) => {
        progress.value = done / Math.max(total, 1);
        status.textContent = `Loading weights ${done}/${total}: ${name}`;
        report.loaded = [done, total];
      },
    });
    const session = new ChatSession({ gpu: g, model, tokenizer: text.tokenizer, inquiryTokenizer: text.inquiry, imageDecoder: browserImageDecoder });
    loaded = { key, model, session };
    progress.value = 1;
    const llm = ckpt.config.llm;
    status.textContent = `Loaded ${src.label} in ${ms(performance.now() - t0)}: ${ckpt.tensors.size} tensors, LLM ${llm.layers} layers × ${llm.hidden}, ` +
      `${act} activations${ckpt.warnings.length ? `; ${ckpt.warnings.join('; ')}` : ''}`;
    setState('ready');
  } catch (e) {
    status.textContent = 'Loading failed.';
    setState('idle');
    throw e;
  } finally {
    loading = null;
  }
}

// ---------- images ----------

/** An 8-bit image on a canvas at its own resolution (RGB as Pillow's to_rgb shows it). */
function imageCanvas(img: DecodedImage): HTMLCanvasElement {
  const rgb = toRgb(img);
  const c = el('canvas');
  c.width = rgb.width;
  c.height = rgb.height;
  const px = new ImageData(rgb.width, rgb.height);
  for (let i = 0, n = rgb.width * rgb.height; i < n; i++) {
    px.data[i * 4] = rgb.data[i * 3]!;
    px.data[i * 4 + 1] = rgb.data[i * 3 + 1]!;
    px.data[i * 4 + 2] = rgb.data[i * 3 + 2]!;
    px.data[i * 4 + 3] = 255;
  }
  c.getContext('2d')!.putImageData(px, 0, 0);
  return c;
}

async function setImages(list: { name: string; bytes: Uint8Array }[]): Promise<void> {
  const decoded = [];
  for (const f of list) decoded.push({ name: f.name, image: await browserImageDecoder.decode(f.bytes, f.name) });
  images = decoded;
  const thumbs = $('thumbs');
  thumbs.replaceChildren(...images.map((im) => {
    const c = imageCanvas(im.image);
    c.title = `${im.name} (${im.image.width}×${im.image.height})`;
    return c;
  }));
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

function setReplay(text: string, name: string): void {
  const f = parseReplayFile(text, name);
  replay = f.turns;
  const q = $<HTMLTextAreaElement>('question');
  if (f.question !== undefined && !q.value.trim()) q.value = f.question;
  $('replay-status').textContent = `${f.turns.length} assistant turn(s) from ${name} will be teacher-forced; later calls are sampled.`;
}

// ---------- asking ----------

function numberInput(id: string, what: string, check: (n: number) => boolean): number {
  const v = $<HTMLInputElement>(id).value.trim();
  const n = Number(v);
  if (v === '' || !check(n)) throw new Error(`${what}: invalid value ${JSON.stringify(v)}`);
  return n;
}

const integer = (min: number) => (n: number) => Number.isSafeInteger(n) && n >= min;

async function ask(): Promise<void> {
  clearError();
  const question = $<HTMLTextAreaElement>('question').value.trim();
  if (images.length === 0) throw new Error('pick at least one image');
  if (!question) throw new Error('type a question');
  const sampling = {
    greedy: $<HTMLInputElement>('greedy').checked,
    seed: numberInput('seed', 'seed', integer(0)),
    temperature: numberInput('temperature', 'temperature', (n) => n > 0),
    topP: numberInput('top-p', 'top-p', (n) => n > 0 && n <= 1),
  };
  const maxRounds = numberInput('max-rounds', 'max rounds', integer(1));
  const maxNewTokens = numberInput('max-new-tokens', 'max new tokens', integer(1));
  const session = await ensureModel();

  report.events = [];
  report.answer = null;
  const view = new TrajectoryView(images);
  const controller = new AbortController();
  running = controller;
  setState('running', 'Thinking…');
  const t0 = performance.now();
  try {
    const events = session.ask({ images, question, sampling, maxRounds, maxNewTokens, replay: replay ?? undefined, signal: controller.signal });
    for await (const e of events) {
      report.events.push(e.type === 'region' ? { ...e, image: [e.image.width, e.image.height] } : e);
      view.show(e);
      if (e.type === 'answer') report.answer = e.answer;
      if (e.type === 'done') setState('done', `Done: ${e.rounds} LLM call(s) in ${ms(performance.now() - t0)}, stopped by ${e.stop_reason}.`);
    }
  } catch (e) {
    if (controller.signal.aborted) {
      setState('stopped', 'Stopped.');
      return;
    }
    throw e;
  } finally {
    running = null;
  }
}

/** Renders one question's events into #transcript, #zooms and the stats table. */
class TrajectoryView {
  private readonly transcript = $('transcript');
  private readonly zooms = $('zooms');
  private readonly stats = $('stats').querySelector('tbody')!;
  private readonly calls = new Map<number, { box: HTMLElement; text: HTMLPreElement }>();
  private readonly originals: Map<string, DecodedImage>;
  private query: string | null = null;
  private zoomCount = 0;

  constructor(originals: readonly { name: string; image: DecodedImage }[]) {
    this.originals = new Map(originals.map((o) => [o.name, o.image]));
    this.transcript.replaceChildren();
    this.zooms.replaceChildren();
    this.stats.replaceChildren();
  }

  private call(n: number): { box: HTMLElement; text: HTMLPreElement } {
    let c = this.calls.get(n);
    if (!c) {
      const box = el('div', 'call');
      const text = el('pre');
      box.append(el('h3', '', `Call ${n + 1}`), text);
      this.transcript.append(box);
      c = { box, text };
      this.calls.set(n, c);
    }
    return c;
  }

  show(e: ChatEvent): void {
    switch (e.type) {
      case 'token':
        this.call(e.call).text.textContent += e.text;
        break;
      case 'tool_call': {
        this.query = e.query;
        const where = e.regions.map((r) => `image ${JSON.stringify(r.index)} ${JSON.stringify(r.bbox)}`).join(', ') || 'no regions';
        this.call(e.call).box.append(el('div', 'tool', `zoom: ${where}; query ${JSON.stringify(e.query)}`));
        break;
      }
      case 'tool_error':
        this.call(e.call).box.append(el('div', 'tool-error', `tool error: ${e.feedback ?? e.error}`));
        break;
      case 'region':
        this.zooms.append(this.zoomCard(e));
        break;
      case 'turn': {
        const t = e.timings;
        this.call(e.call).box.append(el('div', 'turn',
          `${e.prompt_tokens} prompt tokens (${e.reused_tokens} reused, ${e.prefill_tokens} prefilled), ${e.vision_tokens_encoded} vision tokens, ` +
          `${e.generated_tokens} ${e.replayed ? 'replayed' : 'generated'} (${e.finish_reason})`));
        const row = el('tr');
        const cells = [
          String(e.call + 1), String(e.prompt_tokens), String(e.reused_tokens), String(e.prefill_tokens), String(e.vision_tokens_encoded),
          `${e.generated_tokens}${e.replayed ? ' (replay)' : ''}`, ms(t.vision), ms(t.text), ms(t.prefill), ms(t.decode),
          e.tokens_per_s === null ? '–' : e.tokens_per_s.toFixed(1),
        ];
        row.append(...cells.map((c) => el('td', '', c)));
        this.stats.append(row);
        break;
      }
      case 'replay_end':
        this.call(e.call).box.append(el('div', 'tool', `replay used up (${e.replayed} turn(s)): sampling from here on`));
        break;
      case 'answer':
        this.transcript.append(el('div', 'answer', `Answer: ${e.answer}`));
        break;
      case 'done':
        break;
    }
  }

  private zoomCard(e: Extract<ChatEvent, { type: 'region' }>): HTMLElement {
    const card = el('figure', 'zoom');
    const pics = el('div', 'pics');
    const original = this.originals.get(e.original);
    if (original) {
      const c = imageCanvas(original);
      const ctx = c.getContext('2d')!;
      const [l, t, r, b] = e.crop_box;
      ctx.lineWidth = Math.max(2, Math.round(Math.min(c.width, c.height) / 150));
      ctx.strokeStyle = COLORS[this.zoomCount % COLORS.length]!;
      ctx.strokeRect(l, t, r - l, b - t);
      c.title = `${e.original} with the zoom box`;
      pics.append(c);
    }
    const crop = imageCanvas(e.image);
    crop.title = 'what the model sees';
    pics.append(crop);
    const fate = e.image_index === null ? 'dropped (image cap)' : `image ${e.image_index}`;
    card.append(pics, el('figcaption', '',
      `Call ${e.call + 1}, region ${e.region_in_call}: image ${e.source_index} box [${e.source_box.join(', ')}] → ${fate}, ` +
      `${e.processed_size.join('×')} px, ${e.pad_tokens} tokens; cut [${e.crop_box.join(', ')}] of ${e.original}` +
      (this.query ? `; query “${this.query}”` : '')));
    this.zoomCount++;
    return card;
  }
}

// ---------- wiring ----------

async function guarded(f: () => Promise<void>): Promise<void> {
  try {
    await f();
  } catch (e) {
    showError(e);
    setState('error', 'Failed.');
  }
}

function wire(): void {
  $<HTMLInputElement>('model-dir').addEventListener('change', (ev) => {
    const files = (ev.target as HTMLInputElement).files;
    if (!files?.length) return;
    source = folderModelSource(files);
    void guarded(async () => { clearError(); await ensureModel(); });
  });
  $('load').addEventListener('click', () => {
    const url = $<HTMLInputElement>('model-url').value.trim();
    void guarded(async () => {
      clearError();
      if (url) source = urlModelSource(url);
      await ensureModel();
    });
  });
  $<HTMLInputElement>('images').addEventListener('change', (ev) => {
    const files = Array.from((ev.target as HTMLInputElement).files ?? []);
    void guarded(async () => {
      clearError();
      await setImages(await Promise.all(files.map(async (f) => ({ name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) }))));
    });
  });
  $<HTMLInputElement>('replay').addEventListener('change', (ev) => {
    const f = (ev.target as HTMLInputElement).files?.[0];
    replay = null;
    $('replay-status').textContent = '';
    if (f) void guarded(async () => setReplay(await f.text(), f.name));
  });
  $('controls').addEventListener('submit', (ev) => {
    ev.preventDefault();
    void guarded(ask);
  });
  $('stop').addEventListener('click', () => running?.abort(new DOMException('stopped by the user', 'AbortError')));
}

/** Applies the query string; true when it asks for an automatic run. */
async function applyParams(p: URLSearchParams): Promise<boolean> {
  const set = (id: string, v: string | null) => { if (v !== null) $<HTMLInputElement>(id).value = v; };
  set('seed', p.get('seed'));
  set('temperature', p.get('temperature'));
  set('top-p', p.get('top_p'));
  set('max-rounds', p.get('max_rounds'));
  set('max-new-tokens', p.get('max_new_tokens'));
  if (p.get('greedy') === '1') $<HTMLInputElement>('greedy').checked = true;
  if (p.get('f16') === '1') {
    if (!report.f16Available) throw new Error('f16=1: this adapter has no shader-f16');
    $<HTMLInputElement>('f16').checked = true;
  }
  if (p.has('question')) $<HTMLTextAreaElement>('question').value = p.get('question')!;
  const model = p.get('model');
  if (model) {
    $<HTMLInputElement>('model-url').value = model;
    source = urlModelSource(model);
  }
  const replayUrl = p.get('replay');
  if (replayUrl) setReplay(new TextDecoder().decode(await fetchBytes(replayUrl)), replayUrl);
  const imageUrls = p.getAll('image');
  if (imageUrls.length) {
    await setImages(await Promise.all(imageUrls.map(async (u) => ({ name: decodeURIComponent(u.split('/').pop() || u), bytes: await fetchBytes(u) }))));
  }
  return model !== null && imageUrls.length > 0;
}

async function main(): Promise<void> {
  wire();
  setState('starting', '');
  try {
    if (!navigator.gpu) throw new Error('WebGPU is not available in this browser (navigator.gpu is missing; on Linux Chrome needs --enable-unsafe-webgpu)');
    gpu = await Gpu.create({ gpu: navigator.gpu });
  } catch (e) {
    $('adapter').textContent = 'No WebGPU adapter.';
    showError(e);
    setState('error');
    return;
  }
  const a = gpu.adapter;
  const name = [a.vendor, a.architecture, a.description].filter(Boolean).join(' / ') || 'unknown adapter';
  report.adapter = `${name}${a.isFallbackAdapter ? ' (fallback)' : ''}`;
  report.f16Available = gpu.features.f16;
  $('adapter').textContent = `Adapter: ${report.adapter}; shader-f16 ${gpu.features.f16 ? 'yes' : 'no'}, subgroups ${gpu.features.subgroups ? 'yes' : 'no'}`;
  const f16 = $<HTMLInputElement>('f16');
  f16.disabled = !gpu.features.f16;
  if (!gpu.features.f16) f16.parentElement!.title = 'this adapter has no shader-f16';
  setState('idle');
  await guarded(async () => {
    if (await applyParams(new URLSearchParams(location.search))) await ask();
  });
}

void main();
