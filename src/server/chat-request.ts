// The body of POST /v1/chat/completions, validated into what the engine runs: messages as text + image bytes,
// sampling, limits, and the `vilavt` extension object. Every problem is a 400 naming the parameter.
import { createHash } from 'node:crypto';
import { readFile, realpath } from 'node:fs/promises';
import { basename, isAbsolute, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseReplayFile } from '../chat/replay-file.js';
import type { ReplayTurn, SamplingOptions } from '../chat/session.js';
import { ApiError, badRequest } from './api-error.js';

export interface RequestImage {
  bytes: Uint8Array;
  name: string;
  /** sha256 of the bytes (conversation keys). */
  digest: string;
}

export interface RequestMessage {
  role: 'system' | 'user' | 'assistant';
  /** The text parts, joined with newlines. */
  text: string;
  images: RequestImage[];
}

export interface ChatRequest {
  model: string;
  messages: RequestMessage[];
  stream: boolean;
  includeUsage: boolean;
  sampling: SamplingOptions;
  /** Tokens per LLM call of the loop. */
  maxTokens: number | undefined;
  /** The `vilavt` extension object. */
  ext: {
    replay: ReplayTurn[] | undefined;
    maxRounds: number | undefined;
    problemType: string | undefined;
    options: string[] | null;
    /** Include each region's crop as a PNG data URL. */
    crops: boolean;
  };
}

export interface RequestLimits {
  /** Bytes of one image (after base64 decoding). */
  maxImageBytes: number;
  /** Images in one request (all messages). */
  maxImages: number;
  /** Folder that `file:` image URLs may read from (real path), or null: no files. */
  allowFiles: string | null;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

function optNumber(o: Obj, key: string, min: number, max: number, integer = false): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isSafeInteger(v))) {
    throw badRequest(`'${key}' must be ${integer ? 'an integer' : 'a number'} in ${min}..${max}, got ${JSON.stringify(v)}`, key);
  }
  return v;
}

const DATA_URL = /^data:(image\/[a-z0-9.+-]+)?(;[a-z0-9=.+-]+)*;base64,/i;
const BASE64 = /^[A-Za-z0-9+/\r\n]*={0,2}\s*$/;

/** The bytes of an image_url: a base64 data URL, or a file under the allowed folder. */
async function imageBytes(url: string, limits: RequestLimits, param: string): Promise<{ bytes: Uint8Array; name: string }> {
  const m = DATA_URL.exec(url);
  if (m) {
    const b64 = url.slice(m[0].length);
    // base64 inflates by 4/3: refuse before decoding.
    if ((b64.length * 3) / 4 > limits.maxImageBytes + 3) throw badRequest(`image larger than the limit of ${limits.maxImageBytes} bytes`, param, 'image_too_large');
    if (!BASE64.test(b64)) throw badRequest('image data URL is not valid base64', param, 'invalid_image');
    const bytes = Buffer.from(b64, 'base64');
    if (bytes.length === 0) throw badRequest('image data URL is empty', param, 'invalid_image');
    return { bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), name: 'image' };
  }
  if (url.startsWith('data:')) throw badRequest('image data URLs must be base64 (data:image/...;base64,...)', param, 'invalid_image');
  if (/^https?:/i.test(url)) throw badRequest('remote image URLs are not fetched: send the image as a base64 data URL', param, 'invalid_image');
  let path: string;
  try {
    path = url.startsWith('file:') ? fileURLToPath(url) : url;
  } catch {
    throw badRequest(`not a valid file URL: ${JSON.stringify(url.slice(0, 200))}`, param, 'invalid_image');
  }
  if (!limits.allowFiles) throw badRequest('local image files are not allowed (start the server with --allow-files DIR); send a base64 data URL', param, 'invalid_image');
  if (!isAbsolute(path)) throw badRequest('image file paths must be absolute', param, 'invalid_image');
  // The real path (symlinks resolved) must lie inside the allowed folder.
  const real = await realpath(path).catch(() => null);
  if (real === null || !(real + sep).startsWith(limits.allowFiles + sep)) {
    throw badRequest(`image file not found under the allowed folder: ${path}`, param, 'invalid_image');
  }
  const bytes = await readFile(real).catch(() => null);
  if (bytes === null) throw badRequest(`cannot read image file ${path}`, param, 'invalid_image');
  if (bytes.length > limits.maxImageBytes) throw badRequest(`image larger than the limit of ${limits.maxImageBytes} bytes`, param, 'image_too_large');
  return { bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), name: basename(real) };
}

async function parseMessage(m: unknown, i: number, limits: RequestLimits, count: { images: number }): Promise<RequestMessage> {
  const param = `messages[${i}]`;
  if (!isObj(m)) throw badRequest(`${param} must be an object`, param);
  const role = m.role === 'developer' ? 'system' : m.role;
  if (role !== 'system' && role !== 'user' && role !== 'assistant') {
    throw badRequest(`${param}.role ${JSON.stringify(m.role)} is not supported (system, developer, user, assistant; this model calls no client tools)`, `${param}.role`);
  }
  const content = m.content;
  if (typeof content === 'string') return { role, text: content, images: [] };
  if (content === null && role === 'assistant') return { role, text: '', images: [] };
  if (!Array.isArray(content)) throw badRequest(`${param}.content must be a string or a list of content parts`, `${param}.content`);
  const texts: string[] = [];
  const images: RequestImage[] = [];
  for (let j = 0; j < content.length; j++) {
    const part = content[j];
    const pp = `${param}.content[${j}]`;
    if (!isObj(part)) throw badRequest(`${pp} must be an object`, pp);
    if (part.type === 'text' && typeof part.text === 'string') {
      texts.push(part.text);
    } else if (part.type === 'image_url' && role === 'user') {
      const iu = part.image_url;
      const url = typeof iu === 'string' ? iu : isObj(iu) && typeof iu.url === 'string' ? iu.url : null;
      if (url === null) throw badRequest(`${pp}.image_url.url must be a string`, pp);
      if (++count.images > limits.maxImages) throw badRequest(`too many images: at most ${limits.maxImages} per request`, pp, 'too_many_images');
      const { bytes, name } = await imageBytes(url, limits, pp);
      images.push({ bytes, name: name === 'image' ? `image${count.images - 1}` : name, digest: createHash('sha256').update(bytes).digest('hex') });
    } else {
      throw badRequest(`${pp}: unsupported content part ${JSON.stringify(part.type)} for role ${role} (text; image_url in user messages)`, pp);
    }
  }
  return { role, text: texts.join('\n'), images };
}

/** Validate a parsed JSON body. */
export async function parseChatRequest(body: unknown, limits: RequestLimits): Promise<ChatRequest> {
  if (!isObj(body)) throw badRequest('the request body must be a JSON object');
  if (typeof body.model !== 'string' || !body.model) throw badRequest("'model' is required", 'model');
  if (!Array.isArray(body.messages) || body.messages.length === 0) throw badRequest("'messages' must be a non-empty list", 'messages');
  if (body.n !== undefined && body.n !== null && body.n !== 1) throw badRequest("only 'n': 1 is supported", 'n');
  if (body.tools !== undefined && body.tools !== null && !(Array.isArray(body.tools) && body.tools.length === 0)) {
    throw badRequest("client 'tools' are not supported: the model's own zoom tool runs on the server", 'tools');
  }
  const count = { images: 0 };
  const messages: RequestMessage[] = [];
  for (let i = 0; i < body.messages.length; i++) messages.push(await parseMessage(body.messages[i], i, limits, count));
  if (messages[messages.length - 1]!.role !== 'user') throw badRequest('the last message must be from the user', 'messages');

  const temperature = optNumber(body, 'temperature', 0, 2);
  const topP = optNumber(body, 'top_p', Number.MIN_VALUE, 1);
  const seed = optNumber(body, 'seed', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, true);
  const maxTokens = optNumber(body, 'max_completion_tokens', 1, 1 << 20, true) ?? optNumber(body, 'max_tokens', 1, 1 << 20, true);
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean') throw badRequest("'stream' must be a boolean", 'stream');
  const so = body.stream_options;
  const includeUsage = isObj(so) && so.include_usage === true;

  const ext = body.vilavt ?? {};
  if (!isObj(ext)) throw badRequest("'vilavt' must be an object", 'vilavt');
  let replay: ReplayTurn[] | undefined;
  if (ext.replay !== undefined) {
    try {
      replay = parseReplayFile(JSON.stringify(ext.replay), 'vilavt.replay').turns;
    } catch (e) {
      throw badRequest((e as Error).message, 'vilavt.replay');
    }
  }
  const maxRounds = optNumber(ext, 'max_rounds', 1, 100, true);
  if (ext.problem_type !== undefined && typeof ext.problem_type !== 'string') throw badRequest("'vilavt.problem_type' must be a string", 'vilavt.problem_type');
  const options = ext.options;
  if (options !== undefined && !(Array.isArray(options) && options.every((x) => typeof x === 'string'))) {
    throw badRequest("'vilavt.options' must be a list of strings", 'vilavt.options');
  }
  return {
    model: body.model,
    messages,
    stream: body.stream === true,
    includeUsage,
    // temperature 0 is greedy decoding; no seed: a fresh one per request (OpenAI: sampling is not reproducible unless seeded).
    sampling: {
      greedy: temperature === 0, temperature, topP,
      seed: seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Math.abs(seed) % 2 ** 32,
    },
    maxTokens,
    ext: {
      replay, maxRounds, problemType: ext.problem_type as string | undefined, options: (options as string[] | undefined) ?? null,
      crops: ext.crops === true,
    },
  };
}

/** Raised while reading a body: a 413 past the limit. */
export function bodyTooLarge(limit: number): ApiError {
  return new ApiError(413, 'invalid_request_error', `request body larger than the limit of ${limit} bytes`, 'request_too_large');
}
