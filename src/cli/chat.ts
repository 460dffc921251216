// `vilavt chat`: one question about one or more images, answered by the multi-turn zoom loop. Streams the
// trajectory readably (or as JSON lines with --json), draws every zoom box on its original file and saves the crops.
import { createHash } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import type { DecodedImage, RgbImage } from '../preprocess/image.js';
import { toRgb } from '../preprocess/image.js';
import { parseReplayFile, type ReplayFile } from '../chat/replay-file.js';
import { describeDone, describeReplayEnd, describeTool, describeTurn, type ChatEvent } from '../chat/events.js';
import { ChatSession, type ReplayTurn } from '../chat/session.js';
import { createLoopDriver } from '../chat/systems.js';
import { resolveSystem } from './system-option.js';
import { formatKernelTimes } from '../runtime/profiler.js';
import { CliError, UsageError } from './fail.js';
import { intOption as int, parseCommand } from './args.js';
import { loadModelDir } from './load-model.js';
import { DEFAULT_SEED } from '../chat/loop-driver.js';

const USAGE = `usage: vilavt chat --model DIR --image PATH [--image PATH ...] [QUESTION]
  --system NAME          vilavt | deepeyes | pixelreasoner: the tool protocol (default: what the checkpoint is;
                         a plain qwen2_5_vl checkpoint needs it unless its name says DeepEyes or Pixel-Reasoner)
  --json                 one JSON event per line (token, tool_call, tool_error, region, turn, answer, done)
  --replay FILE          teacher-force the assistant turns in FILE (JSON: a list of strings, {"assistant_turns": [...]}
                         or {"responses": [{"text", "finish_reason", "stop_reason"}]}; its "question" is the default)
  --seed N               top-p sampling seed (default ${DEFAULT_SEED})     --greedy        argmax decoding
  --temperature T        top-p sampling (vilavt default 0.75)  --top-p P       (vilavt default 0.9)
  --max-rounds N         LLM calls                              --max-new-tokens N  per call
                         (defaults per system: vilavt top-p, 10 calls, 16384 tokens; deepeyes greedy, 11 calls,
                         10240 tokens; pixelreasoner greedy, its own limits, 2048 tokens)
  --problem-type TYPE    multiple choice | free-form | regression | numerical (default free-form)
  --option TEXT          a multiple-choice option (repeatable)
  --out DIR              where crops and annotated images go (default vilavt-out)
  --context N            KV cache capacity in tokens (default 32768)
  --f16                  f16 activations (needs shader-f16)
  --profile              GPU time per kernel after every LLM call (its vision encoding, prefill and decode steps;
                         needs timestamp-query)`;

interface ChatArgs {
  model: string;
  images: string[];
  question: string;
  json: boolean;
  replay: ReplayTurn[] | undefined;
  seed: number;
  system: string | undefined;
  greedy: boolean | undefined;
  temperature: number | undefined;
  topP: number | undefined;
  maxRounds: number | undefined;
  maxNewTokens: number | undefined;
  problemType: string;
  options: string[] | null;
  out: string;
  context: number;
  f16: boolean;
  profile: boolean;
}

function num(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got ${JSON.stringify(v)}`);
  return n;
}

/** The replay file's assistant turns and question. */
async function readReplay(path: string): Promise<ReplayFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new CliError(`cannot read replay file ${path}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
  }
  return parseReplayFile(text, path);
}

async function parse(argv: string[]): Promise<ChatArgs> {
  const parsed = parseCommand({
    args: argv, allowPositionals: true,
    options: {
      model: { type: 'string' }, image: { type: 'string', multiple: true }, json: { type: 'boolean' },
      system: { type: 'string' }, replay: { type: 'string' }, seed: { type: 'string' }, greedy: { type: 'boolean' }, temperature: { type: 'string' },
      'top-p': { type: 'string' }, 'max-rounds': { type: 'string' }, 'max-new-tokens': { type: 'string' },
      'problem-type': { type: 'string' }, option: { type: 'string', multiple: true }, out: { type: 'string' },
      context: { type: 'string' }, f16: { type: 'boolean' }, profile: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  }, USAGE);
  if (!parsed) process.exit(0);
  const v = parsed.values;
  if (!v.model) throw new UsageError(`--model DIR is required\n${USAGE}`);
  if (!v.image?.length) throw new UsageError(`at least one --image PATH is required\n${USAGE}`);
  if (parsed.positionals.length > 1) throw new UsageError(`give the question as one argument (quote it)\n${USAGE}`);
  const replay = v.replay === undefined ? undefined : await readReplay(v.replay);
  const question = parsed.positionals[0] ?? replay?.question;
  if (question === undefined) throw new UsageError(`a QUESTION is required\n${USAGE}`);
  // Unset: the system's own decoding (ViLaVT top-p 0.75/0.9, the others greedy).
  const temperature = num('temperature', v.temperature);
  const topP = num('top-p', v['top-p']);
  if (!v.greedy && temperature !== undefined && !(temperature > 0)) throw new UsageError(`--temperature must be > 0, got ${temperature} (use --greedy for argmax decoding)`);
  if (!v.greedy && topP !== undefined && !(topP > 0 && topP <= 1)) throw new UsageError(`--top-p must be in (0, 1], got ${topP} (use --greedy for argmax decoding)`);
  return {
    model: v.model, images: v.image, question, json: v.json ?? false, replay: replay?.turns,
    system: v.system, seed: int('seed', v.seed, DEFAULT_SEED, 0), greedy: v.greedy, temperature,
    topP, maxRounds: v['max-rounds'] === undefined ? undefined : int('max-rounds', v['max-rounds'], 10, 1),
    maxNewTokens: v['max-new-tokens'] === undefined ? undefined : int('max-new-tokens', v['max-new-tokens'], 16384, 1), problemType: v['problem-type'] ?? 'free-form',
    options: v.option ?? null, out: v.out ?? 'vilavt-out', context: int('context', v.context, 32768, 2), f16: v.f16 ?? false,
    profile: v.profile ?? false,
  };
}

/** A copy of `img` with rectangle outlines drawn on it. */
function drawBoxes(img: DecodedImage, boxes: { box: readonly number[]; color: readonly number[] }[]): RgbImage {
  const rgb = toRgb(img);
  const out: RgbImage = rgb.data === img.data ? { ...rgb, data: rgb.data.slice() } : rgb; // toRgb may share img's pixels
  const { width: W, height: H, data } = out;
  const t = Math.max(2, Math.round(Math.min(W, H) / 300));
  const fill = (x0: number, y0: number, x1: number, y1: number, c: readonly number[]) => {
    for (let y = Math.max(0, y0); y < Math.min(H, y1); y++) {
      for (let x = Math.max(0, x0); x < Math.min(W, x1); x++) data.set(c, (y * W + x) * 3);
    }
  };
  for (const { box: [l, u, r, b], color } of boxes) {
    fill(l!, u!, r!, u! + t, color);
    fill(l!, b! - t, r!, b!, color);
    fill(l!, u!, l! + t, b!, color);
    fill(r! - t, u!, r!, b!, color);
  }
  return out;
}

const COLORS = [[255, 0, 0], [0, 200, 0], [0, 90, 255], [255, 160, 0], [200, 0, 200], [0, 200, 200]];


export async function chatMain(argv: string[]): Promise<number> {
  const a = await parse(argv);
  // Inputs first: a bad image or checkpoint path fails before the GPU is touched.
  if (!(await stat(a.model).catch(() => null))?.isDirectory()) throw new CliError(`model directory not found: ${a.model}`);
  const outStat = await stat(a.out).catch(() => null);
  if (outStat && !outStat.isDirectory()) throw new CliError(`--out ${a.out} is not a directory (crops are saved into it; it is created when missing)`);
  const { decodeImageFile, encodePng } = await import('../platform/node-image.js');
  const images: { image: DecodedImage; name: string }[] = [];
  // Named by the path as given: two files may share a base name (a/x.png, b/x.png).
  for (const p of a.images) images.push({ image: await decodeImageFile(p), name: p });
  const system = await resolveSystem(a.model, a.system);
  // The loop's own checks (image count, aspect ratio over 200, ...) before the weights are loaded.
  createLoopDriver(system, { images, question: a.question, options: a.options, problemType: a.problemType, maxRounds: a.maxRounds });
  const { gpu, model, text } = await loadModelDir(a.model, { f16: a.f16, contextTokens: a.context, profile: a.profile });

  const session = new ChatSession({ gpu, model, tokenizer: text.tokenizer, inquiryTokenizer: text.inquiry, chatTemplate: text.chatTemplate, contextLength: a.context, system });
  const controller = new AbortController();
  const onSigint = () => controller.abort(new CliError('interrupted'));
  process.once('SIGINT', onSigint);
  const out = (s: string) => process.stdout.write(s);
  /** Zoom boxes per original image (by index: names need not be unique). */
  const boxesByOriginal = new Map<number, { box: readonly number[]; color: readonly number[] }[]>();
  const saved: string[] = [];
  let inText = false;
  let shownCall = -1;
  try {
    const events = session.ask({
      images, question: a.question, problemType: a.problemType, options: a.options, maxRounds: a.maxRounds, maxNewTokens: a.maxNewTokens,
      replay: a.replay, signal: controller.signal,
      sampling: { seed: a.seed, greedy: a.greedy, temperature: a.temperature, topP: a.topP },
    });
    for await (const e of events) {
      let savedPath: string | null = null;
      if (e.type === 'region') {
        await mkdir(a.out, { recursive: true }); // only once there is something to save
        savedPath = join(a.out, `call${e.call + 1}_region${e.region_in_call}_${e.image_index === null ? 'dropped' : `image${e.image_index}`}.png`);
        await writeFile(savedPath, await encodePng(e.image));
        saved.push(savedPath);
        if (e.original_index !== null) {
          // The box on the original file: the region the new image shows (for every system, in original pixels).
          const orig = images[e.original_index]!.image;
          const [x1, y1, x2, y2] = e.region;
          const box = [Math.floor(x1 * orig.width), Math.floor(y1 * orig.height), Math.ceil(x2 * orig.width), Math.ceil(y2 * orig.height)];
          const list = boxesByOriginal.get(e.original_index) ?? [];
          list.push({ box, color: COLORS[list.length % COLORS.length]! });
          boxesByOriginal.set(e.original_index, list);
        }
      }
      // The GPU time of the call that just ended (vision encoding of its new images, prefill, decode steps).
      const kernels = e.type === 'turn' && gpu.profiler ? await gpu.profiler.collect() : null;
      if (kernels) await gpu.profiler!.reset();
      if (a.json) {
        out(JSON.stringify(kernels ? { ...jsonEvent(e, savedPath), gpu_profile: kernels } : jsonEvent(e, savedPath)) + '\n');
        continue;
      }
      if (e.type === 'token') {
        if (e.call !== shownCall) out(`--- call ${e.call + 1} ---\n`);
        shownCall = e.call;
        out(e.text);
        inText = true;
        continue;
      }
      if (inText) out('\n');
      inText = false;
      out(describeEvent(e, savedPath));
      if (kernels) out(`${formatKernelTimes(`  [profile] call ${(e as { call: number }).call + 1}`, kernels)}\n`);
    }
  } finally {
    process.off('SIGINT', onSigint);
    session.close();
    model.destroy();
  }
  // One annotated copy of every original that was zoomed into, boxes in call order.
  const stem = (p: string) => basename(p, extname(p));
  for (const [index, boxes] of boxesByOriginal) {
    const src = images[index]!;
    const shared = images.filter((im) => stem(im.name) === stem(src.name)).length > 1;
    const path = join(a.out, `${stem(src.name)}${shared ? `_image${index}` : ''}_zooms.png`);
    await writeFile(path, await encodePng(drawBoxes(src.image, boxes)));
    saved.push(path);
  }
  if (!a.json && saved.length) out(`saved ${saved.length} image(s) to ${a.out}/: ${saved.map((p) => basename(p)).join(', ')}\n`);
  return 0;
}

/** The event as one JSON object: pixels replaced by the saved file, the prompt by its sha256. */
function jsonEvent(e: ChatEvent, savedPath: string | null): object {
  if (e.type === 'region') {
    const { image: _pixels, ...rest } = e;
    void _pixels;
    return { ...rest, saved: savedPath };
  }
  if (e.type === 'turn') {
    const { prompt, ...rest } = e;
    return { ...rest, prompt_sha256: createHash('sha256').update(prompt).digest('hex') };
  }
  return e;
}

function describeEvent(e: Exclude<ChatEvent, { type: 'token' }>, savedPath: string | null): string {
  switch (e.type) {
    case 'turn':
      return `  [call ${e.call + 1}] ${describeTurn(e)}\n`;
    case 'tool_call':
      return `  [zoom] ${describeTool(e)}\n`;
    case 'tool_error':
      return `  [tool error] ${describeTool(e)}\n`;
    case 'region':
      return `  [region] ${describeTool(e)}; saved ${savedPath}\n`;
    case 'replay_end':
      return `  [replay] ${describeReplayEnd(e)}\n`;
    case 'answer':
      return `answer: ${e.answer}\n`;
    case 'done':
      return `done: ${describeDone(e)}\n`;
  }
}
