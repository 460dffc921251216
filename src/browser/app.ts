// The chat app's page (demo/index.html): renders the engine's events and sends it commands; the engine runs in a
// module worker (worker.ts) behind the protocol of src/app/protocol.ts. Models come from a URL (cached in the
// OPFS as they stream), a picked folder, or the cache list; a conversation continues with follow-ups (the engine
// keeps the KV cache and the vision features), images join by picker, drag and drop or paste; Stop cancels at once;
// a lost device is said in words and the model reloads from the cache.
//
// Presets for links and automation: `?model=URL&image=URL…&replay=URL&question=TEXT&greedy=1&seed=N&temperature=T
// &top_p=P&max_rounds=N&max_new_tokens=N&f16=1` fill the page and start loading the model; nothing is asked until
// Send. `window.__vilavtApp` is the machine-readable state (AppState) for tests.
import { Engine, EngineCommandError } from '../app/engine.js';
import type { CachedModel, EngineClient, EngineInfo, LoadedModel, LoadProgress, ModelSource } from '../app/protocol.js';
import { parseReplayFile } from '../chat/replay-file.js';
import type { SystemName } from '../chat/loop-driver.js';
import type { ReplayTurn } from '../chat/session.js';
import { browserImageDecoder } from '../platform/browser-image.js';
import type { DecodedImage } from '../preprocess/image.js';
import { ExchangeView, el, imageCanvas } from './chat-view.js';
import { formatBytes, formatInt, formatMs } from '../util/format.js';
import { RemoteEngineClient } from '../app/remote-client.js';
import { WorkerEngineClient } from './worker-client.js';

export interface AppCall {
  prefill_tokens: number;
  reused_tokens: number;
  vision_tokens_encoded: number;
}

export interface AppTurn {
  question: string;
  /** Set when the message's trajectory has ended with an answer. */
  answer: string | null;
  calls: AppCall[];
  outcome: 'running' | 'done' | 'stopped' | 'failed';
  error: string | null;
}

export interface AppState {
  /** 'loading' while a model loads, 'running' while answering. */
  state: 'starting' | 'unavailable' | 'idle' | 'loading' | 'ready' | 'running';
  adapter: string | null;
  model: { source: LoadedModel['source']; loadMs: number; name: string; cacheKey: string | null; system: LoadedModel['system'] | null } | null;
  /** One entry per user message of the current chat. */
  turns: AppTurn[];
  progress: LoadProgress | null;
  notices: string[];
  /** The latest error in words (null after a success). */
  error: string | null;
  /** Set when the GPU device was lost (until a model is loaded again). */
  deviceLost: string | null;
  cached: CachedModel[];
  /** Test hook: make the engine's GPU device get lost (GPUDevice.destroy in the worker). */
  loseDevice(): void;
}

declare global {
  interface Window { __vilavtApp?: AppState }
}

const $ = <T extends HTMLElement>(id: string): T => {
  const e = document.getElementById(id);
  if (!e) throw new Error(`app page is missing #${id}`);
  return e as T;
};

/** `?engine=remote`: the engine is the Node server that served this page (`vilavt app`); otherwise a module worker. */
const remoteEngine = new URLSearchParams(location.search).get('engine') === 'remote';
const workerClient = remoteEngine ? null : new WorkerEngineClient(new URL('./worker.js', import.meta.url));
const client: EngineClient = workerClient ?? new RemoteEngineClient(location.origin);
const engine = new Engine(client);
const app: AppState = {
  state: 'starting', adapter: null, model: null, turns: [], progress: null, notices: [], error: null, deviceLost: null, cached: [],
  loseDevice: () => workerClient?.loseDevice(),
};
window.__vilavtApp = app;

interface Attachment { name: string; bytes: Uint8Array; image: DecodedImage }
let attachments: Attachment[] = [];
/** Every image of the current chat by its (unique) name: zoom boxes are drawn on these. */
const originals = new Map<string, DecodedImage>();
let replay: ReplayTurn[] | null = null;
let lastSource: ModelSource | null = null;
let info: EngineInfo | null = null;
let stopping = false;

// ---------- state and status ----------

function setState(s: AppState['state']): void {
  app.state = s;
  const busy = s === 'loading' || s === 'running';
  $<HTMLButtonElement>('send').disabled = busy || app.model === null;
  $<HTMLButtonElement>('stop').disabled = !busy;
  $<HTMLButtonElement>('load').disabled = busy || !info || !!info.unavailable;
  $<HTMLInputElement>('model-dir').disabled = busy || !info || !!info.unavailable;
  $<HTMLButtonElement>('new-chat').disabled = s === 'loading';
  for (const b of Array.from(document.querySelectorAll<HTMLButtonElement>('#cached button'))) b.disabled = busy;
}

function status(text: string): void {
  $('status').textContent = text;
}

function showError(message: string | null): void {
  app.error = message;
  const banner = $('banner');
  if (message === null && !app.deviceLost) {
    banner.hidden = true;
    return;
  }
  banner.hidden = false;
  $('banner-text').textContent = app.deviceLost ?? message ?? '';
  $('reload-model').hidden = !app.deviceLost || !lastSource;
}

const words = (e: unknown) => (e instanceof Error ? e.message : String(e));

// ---------- models ----------

const secs = (s: number) => (s >= 90 ? `${Math.round(s / 60)} min` : `${Math.max(1, Math.round(s))} s`);

function progressLine(p: LoadProgress): string {
  const parts: string[] = [];
  const verb = p.phase === 'downloading' ? 'Downloading' : p.phase === 'loading' ? 'Loading' : 'Checking';
  parts.push(p.bytesTotal ? `${verb} ${formatBytes(p.bytesDone)} of ${formatBytes(p.bytesTotal)}` : verb);
  if (p.tensorsTotal) parts.push(`${p.tensorsDone}/${p.tensorsTotal} tensors`);
  if (p.bytesPerSecond !== null) parts.push(`${formatBytes(p.bytesPerSecond)}/s`);
  if (p.etaSeconds !== null && p.bytesDone < p.bytesTotal) parts.push(`${secs(p.etaSeconds)} left`);
  return parts.join(' · ');
}

async function load(source: ModelSource): Promise<void> {
  if (app.state === 'loading' || app.state === 'running') return;
  lastSource = source;
  app.deviceLost = null;
  showError(null);
  app.notices = [];
  $('notices').replaceChildren();
  const bar = $<HTMLProgressElement>('progress');
  bar.hidden = false;
  bar.value = 0;
  $('load-status').textContent = 'Checking the model…';
  app.model = null;
  clearChat();
  setState('loading');
  if (source.kind === 'url' || source.kind === 'cache') {
    // Ask to keep the cache (Window only; the worker reports whether it is granted).
    await navigator.storage?.persist?.().catch(() => false);
  }
  try {
    const m = await engine.load(source, { activations: $<HTMLInputElement>('f16').checked ? 'f16' : 'f32' }, {
      onProgress: (p) => {
        app.progress = p;
        bar.value = p.bytesTotal ? p.bytesDone / p.bytesTotal : p.tensorsTotal ? p.tensorsDone / p.tensorsTotal : 0;
        $('load-status').textContent = progressLine(p);
      },
      onNotice: (m) => {
        app.notices.push(m);
        $('notices').append(el('li', '', m));
      },
    });
    app.model = { source: m.source, loadMs: m.loadMs, name: m.name, cacheKey: m.cacheKey, system: m.system ?? null };
    bar.value = 1;
    const from = m.source === 'network' ? 'downloaded and cached' : m.source === 'cache' ? 'from the browser cache' : m.source === 'folder' ? 'from the folder' : 'on the server';
    $('load-status').textContent = `Loaded ${m.name} (${from}) in ${formatMs(m.loadMs)}: ${m.description}; ` +
      `${m.system ? `a ${m.system} checkpoint` : 'system unknown (ViLaVT unless Decoding settings say otherwise)'}${m.warnings.length ? `. ${m.warnings.join('; ')}` : ''}`;
    setState('ready');
  } catch (e) {
    bar.hidden = true;
    const aborted = e instanceof EngineCommandError && e.kind === 'aborted';
    $('load-status').textContent = aborted ? 'Loading stopped (a URL download resumes where it stopped).' : 'No model loaded.';
    if (!aborted) showError(words(e));
    setState(info?.unavailable ? 'unavailable' : 'idle');
  } finally {
    if (stopping) status('');
    stopping = false;
    void refreshCache();
  }
}

async function refreshCache(): Promise<void> {
  const list = $('cached');
  if (!info?.cache) {
    list.replaceChildren(el('li', 'note', 'No model cache in this browser.'));
    return;
  }
  try {
    app.cached = await engine.listModels();
  } catch (e) {
    list.replaceChildren(el('li', 'note', `Cache unavailable: ${words(e)}`));
    return;
  }
  if (app.cached.length === 0) list.replaceChildren(el('li', 'note', 'None yet.'));
  else {
    list.replaceChildren(...app.cached.map((m) => {
      const li = el('li');
      const url = el('span', 'url', m.url);
      url.title = m.url;
      // Named apart from the Load button of the URL form ("Open"), so that accessible names stay unique.
      const loadBtn = el('button', '', m.complete ? 'Open' : 'Resume');
      loadBtn.type = 'button';
      loadBtn.setAttribute('aria-label', `${m.complete ? 'Open' : 'Resume'} cached ${m.url}`);
      loadBtn.onclick = () => void load({ kind: 'cache', key: m.key });
      const del = el('button', '', 'Delete');
      del.type = 'button';
      del.setAttribute('aria-label', `Delete cached ${m.url}`);
      del.onclick = () => void (async () => {
        try {
          await engine.deleteModel(m.key);
          showError(null);
        } catch (e) {
          showError(words(e));
        }
        await refreshCache();
      })();
      li.append(url, el('span', '', `${formatBytes(m.bytes)}${m.complete ? '' : ' (partial)'}`), loadBtn, del);
      return li;
    }));
  }
  setState(app.state);
  const est = await navigator.storage?.estimate?.().catch(() => null);
  if (est?.quota) $('storage').textContent = `Browser storage: ${formatBytes(est.usage ?? 0)} used of ${formatBytes(est.quota)} available to this site.`;
}

// ---------- attachments ----------

async function addImages(files: readonly File[]): Promise<void> {
  for (const f of files) {
    if (!f.type.startsWith('image/') && !/\.(png|jpe?g|webp|gif|bmp)$/i.test(f.name)) continue;
    try {
      const bytes = new Uint8Array(await f.arrayBuffer());
      await addImageBytes(f.name || 'pasted.png', bytes);
    } catch (e) {
      showError(`${f.name}: ${words(e)}`);
    }
  }
}

async function addImageBytes(name: string, bytes: Uint8Array): Promise<void> {
  const image = await browserImageDecoder.decode(bytes, name);
  // Names identify images in zoom events: keep them unique within the chat.
  let unique = name;
  for (let i = 2; originals.has(unique) || attachments.some((a) => a.name === unique); i++) unique = name.replace(/(\.[^.]*)?$/, ` (${i})$1`);
  attachments.push({ name: unique, bytes, image });
  renderAttachments();
}

function renderAttachments(): void {
  $('attachments').replaceChildren(...attachments.map((a, i) => {
    const t = el('div', 'thumb');
    const c = imageCanvas(a.image);
    c.title = `${a.name} (${a.image.width}×${a.image.height})`;
    const rm = el('button', '', '×');
    rm.type = 'button';
    rm.setAttribute('aria-label', `Remove ${a.name}`);
    rm.onclick = () => { attachments.splice(i, 1); renderAttachments(); };
    t.append(c, rm);
    return t;
  }));
}

// ---------- asking ----------

function numberInput(id: string, what: string, check: (n: number) => boolean): number {
  const v = $<HTMLInputElement>(id).value.trim();
  const n = Number(v);
  if (v === '' || !check(n)) throw new Error(`${what}: invalid value ${JSON.stringify(v)}`);
  return n;
}
const integer = (min: number) => (n: number) => Number.isSafeInteger(n) && n >= min;

const EMPTY_CHAT = 'Load a model, add an image, and ask. Follow-up questions continue the conversation.';

function clearChat(note = EMPTY_CHAT): void {
  app.turns = [];
  originals.clear();
  $('chat').replaceChildren(el('p', 'note', note));
}

async function send(): Promise<void> {
  if (app.state !== 'ready' || !app.model) return;
  const question = $<HTMLTextAreaElement>('message').value.trim();
  try {
    if (!question) throw new Error('type a message first');
    if (app.turns.filter((t) => t.outcome === 'done').length === 0 && attachments.length === 0) throw new Error('add at least one image to start the chat (Add images, drop or paste one)');
    const sampling = {
      greedy: $<HTMLInputElement>('greedy').checked,
      seed: numberInput('seed', 'seed', integer(0)),
      temperature: numberInput('temperature', 'temperature', (n) => n > 0),
      topP: numberInput('top-p', 'top-p', (n) => n > 0 && n <= 1),
    };
    const maxRounds = numberInput('max-rounds', 'max rounds', integer(1));
    const maxNewTokens = numberInput('max-new-tokens', 'max new tokens', integer(1));
    const system = ($<HTMLSelectElement>('system').value || undefined) as SystemName | undefined;
    showError(null);
    const sent = attachments;
    attachments = [];
    renderAttachments();
    for (const a of sent) originals.set(a.name, a.image);
    const turn: AppTurn = { question, answer: null, calls: [], outcome: 'running', error: null };
    app.turns.push(turn);
    const view = new ExchangeView(question, sent, originals);
    if (app.turns.length === 1) $('chat').replaceChildren();
    $('chat').append(view.root);
    $<HTMLTextAreaElement>('message').value = '';
    const forced = replay;
    replay = null;
    $<HTMLInputElement>('replay').value = '';
    $('replay-status').textContent = forced ? `Replaying ${forced.length} turn(s) for this message.` : $('replay-status').textContent;
    setState('running');
    stopping = false;
    status('Answering…');
    const t0 = performance.now();
    try {
      const r = await engine.ask({ question, images: sent.map((a) => ({ name: a.name, bytes: a.bytes })), replay: forced ?? undefined, sampling, maxRounds, maxNewTokens, system }, (e) => {
        view.show(e);
        if (e.type === 'turn') turn.calls.push({ prefill_tokens: e.prefill_tokens, reused_tokens: e.reused_tokens, vision_tokens_encoded: e.vision_tokens_encoded });
        if (e.type === 'answer') turn.answer = e.answer;
        $('chat').scrollTop = $('chat').scrollHeight;
      });
      turn.outcome = 'done';
      const reused = turn.calls.reduce((n, c) => n + c.reused_tokens, 0);
      const computed = turn.calls.reduce((n, c) => n + c.prefill_tokens, 0);
      const vision = turn.calls.reduce((n, c) => n + c.vision_tokens_encoded, 0);
      view.setOutcome(`${r.rounds} call${r.rounds === 1 ? '' : 's'} in ${formatMs(performance.now() - t0)}, ended by ${r.stopReason}; ` +
        `${formatInt(reused)} prompt tokens reused, ${formatInt(computed)} computed, ${formatInt(vision)} vision tokens encoded.`);
      status('');
    } catch (e) {
      const aborted = e instanceof EngineCommandError && e.kind === 'aborted';
      // The engine dropped the message: its images go back to the composer (a chat's first message needs them).
      if (attachments.length === 0) {
        attachments = sent;
        for (const a of sent) originals.delete(a.name);
        renderAttachments();
      }
      turn.outcome = aborted ? 'stopped' : 'failed';
      turn.error = aborted ? null : words(e);
      view.end(aborted ? 'Stopped. The next message continues from the last answered one.' : `Failed: ${words(e)}`, !aborted);
      status(aborted ? 'Stopped.' : '');
      if (!aborted && !(e instanceof EngineCommandError && e.kind === 'device_lost')) showError(words(e));
    } finally {
      if ((app.state as AppState['state']) === 'running') setState(app.model ? 'ready' : 'idle');
    }
  } catch (e) {
    showError(words(e));
  }
}

function stop(): void {
  if (stopping || (app.state !== 'running' && app.state !== 'loading')) return;
  stopping = true;
  status('Stopping…');
  void engine.stop();
}

async function newChat(): Promise<void> {
  if (app.state === 'running') {
    stop();
    while ((app.state as AppState['state']) === 'running') await new Promise((r) => setTimeout(r, 20));
  }
  try {
    await engine.newChat();
  } catch (e) {
    showError(words(e));
    return;
  }
  clearChat('New chat: the conversation and its KV cache were freed. Add an image and ask.');
  status('');
}

// ---------- wiring ----------

function wire(): void {
  $('url-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const url = $<HTMLInputElement>('model-url').value.trim();
    if (!url) showError('type the URL of a model folder first');
    else void load({ kind: 'url', url });
  });
  $<HTMLInputElement>('model-dir').addEventListener('change', (ev) => {
    const files = Array.from((ev.target as HTMLInputElement).files ?? []);
    if (files.length) void load({ kind: 'folder', files });
  });
  $<HTMLInputElement>('images').addEventListener('change', (ev) => {
    const input = ev.target as HTMLInputElement;
    void addImages(Array.from(input.files ?? [])).then(() => { input.value = ''; });
  });
  $<HTMLInputElement>('replay').addEventListener('change', (ev) => {
    const f = (ev.target as HTMLInputElement).files?.[0];
    replay = null;
    if (f) void f.text().then((t) => setReplay(t, f.name)).catch((e: unknown) => showError(words(e)));
  });
  $('composer').addEventListener('submit', (ev) => {
    ev.preventDefault();
    void send();
  });
  $<HTMLTextAreaElement>('message').addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      void send();
    }
  });
  $('stop').addEventListener('click', stop);
  $('new-chat').addEventListener('click', () => void newChat());
  $('reload-model').addEventListener('click', () => {
    if (!lastSource) return;
    const key = app.cached.find((m) => lastSource?.kind === 'url' && m.url.startsWith(lastSource.url))?.key;
    void load(key ? { kind: 'cache', key } : lastSource);
  });
  const pane = $('chat-pane');
  pane.addEventListener('dragover', (ev) => { ev.preventDefault(); pane.classList.add('dragging'); });
  pane.addEventListener('dragleave', () => pane.classList.remove('dragging'));
  pane.addEventListener('drop', (ev) => {
    ev.preventDefault();
    pane.classList.remove('dragging');
    void addImages(Array.from(ev.dataTransfer?.files ?? []));
  });
  document.addEventListener('paste', (ev) => {
    const files = Array.from(ev.clipboardData?.files ?? []);
    if (files.length) {
      ev.preventDefault();
      void addImages(files);
    }
  });
}

function setReplay(text: string, name: string): void {
  const f = parseReplayFile(text, name);
  replay = f.turns;
  const msg = $<HTMLTextAreaElement>('message');
  if (f.question !== undefined && !msg.value.trim()) msg.value = f.question;
  $('replay-status').textContent = `${f.turns.length} assistant turn(s) from ${name} will be teacher-forced for the next message; later calls are sampled.`;
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

/** URL parameters as presets: fill the page, start loading `model`; never ask. */
async function applyParams(p: URLSearchParams): Promise<void> {
  const set = (id: string, v: string | null) => { if (v !== null) $<HTMLInputElement>(id).value = v; };
  set('seed', p.get('seed'));
  set('temperature', p.get('temperature'));
  set('top-p', p.get('top_p'));
  set('max-rounds', p.get('max_rounds'));
  set('max-new-tokens', p.get('max_new_tokens'));
  if (p.get('greedy') === '1') $<HTMLInputElement>('greedy').checked = true;
  if (p.has('system')) $<HTMLSelectElement>('system').value = p.get('system')!;
  if (p.get('f16') === '1') {
    if (!info?.f16) throw new Error('f16=1: this adapter has no shader-f16');
    $<HTMLInputElement>('f16').checked = true;
  }
  if (p.has('question')) $<HTMLTextAreaElement>('message').value = p.get('question')!;
  const replayUrl = p.get('replay');
  if (replayUrl) setReplay(new TextDecoder().decode(await fetchBytes(replayUrl)), replayUrl);
  for (const u of p.getAll('image')) await addImageBytes(decodeURIComponent(u.split('/').pop() || u), await fetchBytes(u));
  const model = p.get('model');
  if (model) {
    $<HTMLInputElement>('model-url').value = model;
    void load({ kind: 'url', url: model });
  }
}

async function main(): Promise<void> {
  wire();
  setState('starting');
  engine.onInfo = (i) => {
    info = i;
    app.adapter = i.adapter;
    $('adapter').textContent = i.unavailable ? `No WebGPU: ${i.unavailable}` :
      `Engine in ${i.kind === 'remote' ? 'the local server (Node)' : 'a worker'} on ${i.adapter}; shader-f16 ${i.f16 ? 'yes' : 'no'}.`;
    const f16 = $<HTMLInputElement>('f16');
    f16.disabled = !i.f16;
    if (!i.f16) f16.checked = false;
    if (app.state === 'starting' || app.state === 'unavailable') setState(i.unavailable ? 'unavailable' : 'idle');
    if (i.unavailable) showError(i.unavailable);
  };
  engine.onDeviceLost = (message) => {
    app.deviceLost = message;
    app.model = null;
    $('load-status').textContent = 'No model loaded (the GPU device was lost).';
    $<HTMLProgressElement>('progress').hidden = true;
    showError(message);
    if (app.state === 'ready') setState('idle');
  };
  await engine.info();
  void refreshCache();
  try {
    await applyParams(new URLSearchParams(location.search));
  } catch (e) {
    showError(words(e));
  }
  // A remote engine serves the model it was started with: load it at once.
  if (info?.kind === 'remote' && info.sources.includes('server') && !lastSource) void load({ kind: 'server' });
}

void main();
