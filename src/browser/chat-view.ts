// Rendering of one exchange of the chat (a user message and the assistant's trajectory): the user's text and
// images, each LLM call's streamed text with thoughts, tool calls and the answer set apart, one card per zoom (the
// box on its source image, the crop the model saw), and per call what was reused and what was computed.
import type { WireChatEvent } from '../app/protocol.js';
import { describeDone, describeReplayEnd, describeTool, describeTurn } from '../chat/events.js';
import { toRgb, type DecodedImage } from '../preprocess/image.js';

type Region = Extract<WireChatEvent, { type: 'region' }>;

const COLORS = ['#e11d48', '#16a34a', '#2563eb', '#f59e0b', '#c026d3', '#0891b2'];

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls = '', text = ''): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text) e.textContent = text;
  return e;
}


/** An image on a canvas at its own resolution (RGB as Pillow's convert('RGB') shows it). */
export function imageCanvas(img: DecodedImage): HTMLCanvasElement {
  const rgb = img.channels === 3 ? img : toRgb(img);
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

/** Text of a call with `<think>`, `<tool>` and `<answer>` spans styled (tags stay visible, dimmed). */
function renderCallText(target: HTMLElement, text: string): void {
  const parts: Node[] = [];
  const re = /<(think|tool|answer)>([\s\S]*?)(<\/\1>|$)/g;
  let at = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index > at) parts.push(document.createTextNode(text.slice(at, m.index)));
    const cls = m[1] === 'think' ? 'think' : m[1] === 'tool' ? 'tool' : 'answer-text';
    parts.push(el('span', 'tag', `<${m[1]}>`), el('span', cls, m[2]!));
    if (m[3]) parts.push(el('span', 'tag', m[3]));
    at = m.index + m[0].length;
    if (m[0].length === 0) break;
  }
  if (at < text.length) parts.push(document.createTextNode(text.slice(at)));
  target.replaceChildren(...parts);
}

/** One user message and its trajectory. */
export class ExchangeView {
  readonly root = el('div', 'exchange');
  private readonly assistant = el('div', 'assistant');
  private readonly calls = new Map<number, { box: HTMLElement; text: HTMLElement; raw: string; zooms: HTMLElement }>();
  private pendingRender = new Set<number>();
  private query: string | null = null;
  private zoomCount = 0;
  private readonly outcome = el('div', 'outcome');

  constructor(question: string, images: readonly { name: string; image: DecodedImage }[], private readonly originals: ReadonlyMap<string, DecodedImage>) {
    const user = el('div', 'user');
    if (images.length) {
      const imgs = el('div', 'imgs');
      for (const im of images) {
        const c = imageCanvas(im.image);
        c.title = `${im.name} (${im.image.width}×${im.image.height})`;
        imgs.append(c);
      }
      user.append(imgs);
    }
    user.append(el('div', 'q', question));
    this.root.append(user, this.assistant);
    this.assistant.append(this.outcome);
    this.outcome.textContent = 'Thinking…';
  }

  private call(n: number) {
    let c = this.calls.get(n);
    if (!c) {
      const box = el('div', 'call');
      const text = el('div', 'text');
      const zooms = el('div', 'zooms');
      box.append(text);
      this.assistant.insertBefore(box, this.outcome);
      c = { box, text, raw: '', zooms };
      this.calls.set(n, c);
    }
    return c;
  }

  show(e: WireChatEvent): void {
    switch (e.type) {
      case 'token': {
        const c = this.call(e.call);
        c.raw += e.text;
        // Streaming text is re-styled at most once per frame.
        if (!this.pendingRender.has(e.call)) {
          this.pendingRender.add(e.call);
          requestAnimationFrame(() => {
            this.pendingRender.delete(e.call);
            renderCallText(c.text, c.raw);
          });
        }
        break;
      }
      case 'tool_call':
        this.query = e.query;
        break;
      case 'tool_error':
        this.call(e.call).box.append(el('div', 'tool-error', `Zoom failed: ${describeTool(e)}`));
        break;
      case 'region': {
        const c = this.call(e.call);
        if (!c.zooms.isConnected) c.box.append(c.zooms);
        c.zooms.append(this.zoomCard(e));
        break;
      }
      case 'turn': {
        const c = this.call(e.call);
        renderCallText(c.text, c.raw);
        c.box.append(el('div', 'stats', describeTurn(e)));
        break;
      }
      case 'replay_end':
        this.call(e.call).box.append(el('div', 'stats', `Replay: ${describeReplayEnd(e)}.`));
        break;
      case 'answer':
        this.assistant.insertBefore(el('div', 'answer', e.answer), this.outcome);
        break;
      case 'done':
        this.outcome.textContent = `${describeDone(e)}.`;
        break;
    }
  }

  /** The message ended without an answer (stopped, failed). */
  end(words: string, bad: boolean): void {
    for (const [n, c] of this.calls) if (!this.pendingRender.has(n)) renderCallText(c.text, c.raw);
    this.outcome.textContent = words;
    this.outcome.classList.toggle('bad', bad);
  }

  setOutcome(words: string): void {
    this.outcome.textContent = words;
  }

  private zoomCard(e: Region): HTMLElement {
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
    const fate = e.image_index === null ? 'dropped (image cap)' : `new image ${e.image_index}`;
    card.append(pics, el('figcaption', '',
      `Zoom on image ${e.source_index} [${e.source_box.join(', ')}] → ${fate}, ${e.processed_size.join('×')} px, ${e.pad_tokens} tokens` +
      (this.query ? `; query “${this.query}”` : '')));
    this.zoomCount++;
    return card;
  }
}
