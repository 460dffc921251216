// `vilavt serve` through the official `openai` client on the demo checkpoint (tiny random weights, the real
// tokenizers; assistant turns teacher-forced with the `vilavt.replay` extension while every tool call, crop and KV
// step runs for real): non-streaming and streaming completions with an image, a follow-up served from the
// conversation store (cached tokens = exactly the previous conversation), a client that aborts its stream (the
// generation stops), a full queue, and each bad request (4xx OpenAI error JSON, the server keeps serving).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import OpenAI from 'openai';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionCreateParamsNonStreaming, ChatCompletionCreateParamsStreaming, ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, EngineCommandError } from '../../src/app/engine.js';
import { RemoteEngineClient } from '../../src/app/remote-client.js';
import type { ChatEvent } from '../../src/chat/events.js';
import { VilavtModel } from '../../src/model/vilavt-model.js';
import { openCheckpointDir } from '../../src/platform/node-file.js';
import { loadTokenizerDir } from '../../src/platform/node-tokenizer.js';
import { VilavtServer, type ServerEngine } from '../../src/server/server.js';
import { nodeEngine } from '../../src/server/start.js';
import { demoDir } from '../helpers/demo.js';
import { getGpu } from '../helpers/gpu.js';
import { createNodeGpu } from '../../src/platform/node.js';
import type { Gpu } from '../../src/runtime/device.js';

const MODEL = 'vilavt-demo';
const KEY = 'sk-test-123';
const LIMITS = { maxBodyBytes: 3 * 1024 * 1024, maxImageBytes: 1024 * 1024, maxImages: 4, allowFiles: null as string | null };

type Round = { call: number; text: string; prompt_tokens: number; reused_tokens: number; generated_tokens: number; vision_tokens_encoded: number; regions: { processed_size: number[]; crop_box: number[]; pad_tokens: number; image_url?: string }[]; tool_call: { query: string } | null };
type Vilavt = { rounds: Round[]; answer: string; stop_reason: string; conversation: string };
type Completion = ChatCompletion & { vilavt: Vilavt };

let model: VilavtModel;
let engine: ServerEngine;
let keyedUrl: string;
let base: string;
let client: OpenAI;
let dir: string;
let sampleUrl: string;
let replay: { question: string; assistant_turns: string[] };

const servers: VilavtServer[] = [];
async function serve(o: Partial<ConstructorParameters<typeof VilavtServer>[0]> = {}): Promise<[VilavtServer, string]> {
  const s = new VilavtServer({ engine, apiKey: null, limits: LIMITS, maxQueue: 1, maxConversations: 4, ...o });
  servers.push(s);
  return [s, await s.listen(0, '127.0.0.1')];
}

const userTurn = (text: string, ...images: string[]): ChatCompletionMessageParam => ({
  role: 'user', content: [...images.map((url) => ({ type: 'image_url' as const, image_url: { url } })), { type: 'text' as const, text }],
});

async function complete(body: Omit<ChatCompletionCreateParamsNonStreaming, 'model'> & { vilavt?: object }, c = client): Promise<Completion> {
  return (await c.chat.completions.create({ model: MODEL, ...body } as ChatCompletionCreateParamsNonStreaming)) as Completion;
}

async function health(url = base): Promise<{ queue: { running: boolean; waiting: number }; requests: { completed: number; cancelled: number; failed: number }; conversations: { kept: number } }> {
  return (await fetch(`${url}/health`)).json() as never;
}

/** The error an `openai` call rejects with. */
async function apiError(p: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  const e = await p.then(() => null, (x: unknown) => x);
  expect(e).toBeInstanceOf(OpenAI.APIError);
  return e as InstanceType<typeof OpenAI.APIError>;
}

beforeAll(async () => {
  dir = await demoDir();
  const ckpt = join(dir, 'checkpoint');
  const gpu = await getGpu();
  const t0 = performance.now();
  model = await VilavtModel.load(gpu, await openCheckpointDir(ckpt), { activations: 'f32' });
  const text = await loadTokenizerDir(ckpt);
  engine = nodeEngine({ gpu, model, text, loadMs: performance.now() - t0 }, { name: MODEL, context: 8192, maxPixels: 1_000_000, cacheMb: 1024 }).engine;
  [, base] = await serve({ limits: { ...LIMITS, allowFiles: dir } });
  client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0 });
  [, keyedUrl] = await serve({ apiKey: KEY });
  sampleUrl = `data:image/png;base64,${(await readFile(join(dir, 'sample.png'))).toString('base64')}`;
  replay = JSON.parse(await readFile(join(dir, 'replay.json'), 'utf8'));
}, 180_000);

afterAll(async () => {
  for (const s of servers) await s.close();
  model?.destroy();
});

describe('vilavt serve (OpenAI chat API)', () => {
  let first: Completion;

  it('lists its model and reports health', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual([MODEL]);
    expect((await client.models.retrieve(MODEL)).id).toBe(MODEL);
    expect((await health()).queue).toEqual({ running: false, waiting: 0, limit: 1 });
  });

  it('answers with the whole zoom loop: content = the trajectory, rounds with regions, usage', async () => {
    first = await complete({ messages: [userTurn(replay.question, sampleUrl)], vilavt: { replay: replay.assistant_turns, crops: true } });
    expect(first.object).toBe('chat.completion');
    expect(first.model).toBe(MODEL);
    const choice = first.choices[0]!;
    expect(choice.finish_reason).toBe('stop');
    expect(choice.message.role).toBe('assistant');
    expect(choice.message.content).toBe(replay.assistant_turns.join('\n\n'));
    const v = first.vilavt;
    expect(v.conversation).toBe('new');
    expect(v.answer).toBe('circle');
    expect(v.stop_reason).toBe('answer');
    expect(v.rounds.map((r) => r.text)).toEqual(replay.assistant_turns);
    expect(v.rounds.map((r) => r.tool_call?.query ?? null)).toEqual(['the shapes on the sign board', 'the red shape at the left end of the sign', null]);
    expect(v.rounds.map((r) => r.regions.length)).toEqual([1, 1, 0]);
    for (const r of v.rounds.slice(0, 2)) {
      const reg = r.regions[0]!;
      // The crop the model saw: sized in 28-pixel units, its pad tokens = the merged patches, shown as a PNG of that size.
      expect(reg.processed_size.every((n) => n % 28 === 0)).toBe(true);
      expect(reg.pad_tokens).toBe((reg.processed_size[0]! / 28) * (reg.processed_size[1]! / 28));
      const png = Buffer.from(reg.image_url!.replace(/^data:image\/png;base64,/, ''), 'base64');
      const meta = await sharp(png).metadata();
      expect([meta.width, meta.height]).toEqual(reg.processed_size);
    }
    expect(v.rounds[0]!.reused_tokens).toBe(0); // a new conversation
    expect(v.rounds[1]!.reused_tokens).toBeGreaterThan(0); // later calls reuse the first one's KV cache
    const u = first.usage!;
    expect(u.prompt_tokens).toBe(v.rounds.reduce((n, r) => n + r.prompt_tokens, 0));
    expect(u.completion_tokens).toBe(v.rounds.reduce((n, r) => n + r.generated_tokens, 0));
    expect(u.total_tokens).toBe(u.prompt_tokens + u.completion_tokens);
    expect(u.prompt_tokens_details!.cached_tokens).toBe(v.rounds.reduce((n, r) => n + r.reused_tokens, 0));
  });

  it('continues a conversation the client resends: the KV cache of the whole previous exchange is reused', async () => {
    const answer = '<think> It is red. </think>\n<answer> red </answer>';
    const messages: ChatCompletionMessageParam[] = [
      userTurn(replay.question, sampleUrl),
      { role: 'assistant', content: first.choices[0]!.message.content },
      userTurn('What colour is that shape?'),
    ];
    const r = await complete({ messages, vilavt: { replay: [answer] } });
    expect(r.vilavt.conversation).toBe('continued');
    expect(r.choices[0]!.message.content).toBe(answer);
    expect(r.vilavt.answer).toBe('red');
    // Everything the previous request left in the cache: its last call's prompt and its (teacher-forced) answer.
    const last = first.vilavt.rounds[2]!;
    const round = r.vilavt.rounds[0]!;
    expect(round.reused_tokens).toBe(last.prompt_tokens + last.generated_tokens);
    expect(round.vision_tokens_encoded).toBe(0);
    expect(r.usage!.prompt_tokens_details!.cached_tokens).toBe(round.reused_tokens);

    // The same follow-up after a different assistant message is not that conversation: rebuilt from the text, nothing cached.
    const other = await complete({ messages: [messages[0]!, { role: 'assistant', content: '<answer> square </answer>' }, messages[2]!], vilavt: { replay: [answer] } });
    expect(other.vilavt.conversation).toBe('rebuilt');
    expect(other.usage!.prompt_tokens_details!.cached_tokens).toBe(0);
  });

  it('streams OpenAI chunks, round and region extension chunks, usage and [DONE]', async () => {
    const stream = await client.chat.completions.create({
      model: MODEL, messages: [userTurn(replay.question, sampleUrl)], stream: true, stream_options: { include_usage: true },
      vilavt: { replay: replay.assistant_turns },
    } as ChatCompletionCreateParamsStreaming);
    const chunks: (ChatCompletionChunk & { vilavt?: { type: string; call?: number; processed_size?: number[] } })[] = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    const content = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(content).toBe(first.choices[0]!.message.content);
    expect(chunks.filter((c) => c.choices[0]?.finish_reason).map((c) => c.choices[0]!.finish_reason)).toEqual(['stop']);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    const ext = chunks.filter((c) => c.vilavt).map((c) => c.vilavt!);
    expect(ext.filter((e) => e.type === 'round').map((e) => e.call)).toEqual([0, 1, 2]);
    expect(ext.filter((e) => e.type === 'region').map((e) => e.processed_size)).toEqual(first.vilavt.rounds.flatMap((r) => r.regions.map((g) => g.processed_size)));
    expect(ext.filter((e) => e.type === 'answer')).toEqual([{ type: 'answer', answer: 'circle' }]);
    expect(ext.at(-1)!.type).toBe('done');
    const usage = chunks.find((c) => c.usage)!.usage!;
    expect(usage).toEqual(first.usage);
  });

  it('a client that aborts its stream cancels the generation; a full queue says so (429)', async () => {
    const before = await health();
    // Greedy decoding of random weights for up to 6000 tokens: far longer than the test waits.
    const long = await client.chat.completions.create({
      model: MODEL, messages: [userTurn('Describe everything.', sampleUrl)], stream: true, temperature: 0, max_tokens: 6000,
      vilavt: { max_rounds: 1 },
    } as ChatCompletionCreateParamsStreaming);
    const it = long[Symbol.asyncIterator]();
    let text = '';
    while (text.length < 5) text += (await it.next()).value?.choices[0]?.delta.content ?? '';
    // One request may wait behind the running one; the next is refused at once.
    const waiting = complete({ messages: [userTurn(replay.question, sampleUrl)], vilavt: { replay: replay.assistant_turns } });
    await expect.poll(async () => (await health()).queue.waiting).toBe(1);
    const full = await apiError(complete({ messages: [userTurn('x', sampleUrl)] }));
    expect(full.status).toBe(429);
    expect(full.code).toBe('queue_full');
    expect(full.headers?.get('retry-after')).toBe('1');
    expect(full.message).toMatch(/busy/);

    const t0 = performance.now();
    long.controller.abort();
    expect((await waiting).vilavt.answer).toBe('circle'); // the queued request runs once the aborted one stopped
    expect(performance.now() - t0).toBeLessThan(30_000);
    const after = await health();
    expect(after.requests.cancelled).toBe(before.requests.cancelled + 1);
    expect(after.requests.completed).toBe(before.requests.completed + 1); // the waiting one only
    expect(after.queue).toMatchObject({ running: false, waiting: 0 });
  });

  it('reads image files only under --allow-files', async () => {
    const ok = await complete({ messages: [userTurn(replay.question, `file://${join(dir, 'sample.png')}`)], vilavt: { replay: replay.assistant_turns } });
    expect(ok.vilavt.answer).toBe('circle');
    const outside = await apiError(complete({ messages: [userTurn('q', '/etc/hostname')] }));
    expect(outside.status).toBe(400);
    expect(outside.message).toMatch(/not found under the allowed folder/);
  });

  describe('bad requests: OpenAI error JSON with a 4xx status, and the server keeps serving', () => {
    const expectError = async (p: Promise<unknown>, status: number, code: string | null, message: RegExp) => {
      const e = await apiError(p);
      expect(e.status).toBe(status);
      expect(e.code ?? null).toBe(code);
      expect(e.message).toMatch(message);
      expect(e.message).not.toMatch(/\n\s+at /); // no stack trace
      expect((e.error as { type?: string }).type).toBeTypeOf('string');
    };

    it('malformed JSON', async () => {
      const res = await fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model": "x", "messages": [' });
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: { message: string; type: string } };
      expect(body.error.type).toBe('invalid_request_error');
      expect(body.error.message).toMatch(/not valid JSON/);
    });

    it('unknown model, missing fields, unsupported roles', async () => {
      await expectError(client.chat.completions.create({ model: 'gpt-4o', messages: [userTurn('hi', sampleUrl)] }), 404, 'model_not_found', /'gpt-4o' does not exist/);
      await expectError(complete({ messages: [] }), 400, null, /messages/);
      await expectError(complete({ messages: [{ role: 'tool', content: 'x', tool_call_id: 't' }] }), 400, null, /role "tool"/);
      await expectError(complete({ messages: [userTurn('no image here')] }), 400, null, /at least one image/);
      await expectError(complete({ messages: [userTurn('hi', sampleUrl)], temperature: 7 }), 400, null, /'temperature'/);
    });

    it('undecodable, too large and remote images; too many images', async () => {
      const junk = `data:image/png;base64,${Buffer.from('this is not an image').toString('base64')}`;
      await expectError(complete({ messages: [userTurn('q', junk)] }), 400, 'invalid_image', /cannot identify image/);
      const big = await sharp({ create: { width: 1200, height: 1000, channels: 3, background: '#808080' } }).png().toBuffer();
      await expectError(complete({ messages: [userTurn('q', `data:image/png;base64,${big.toString('base64')}`)] }), 400, 'image_too_large', /1200x1000 pixels exceeds/);
      const heavy = `data:image/png;base64,${Buffer.alloc(LIMITS.maxImageBytes + 10, 1).toString('base64')}`;
      await expectError(complete({ messages: [userTurn('q', heavy)] }), 400, 'image_too_large', /larger than the limit/);
      await expectError(complete({ messages: [userTurn('q', 'https://example.com/cat.png')] }), 400, 'invalid_image', /remote image URLs/);
      await expectError(complete({ messages: [userTurn('q', ...Array(5).fill(sampleUrl))] }), 400, 'too_many_images', /at most 4/);
    });

    it('a context that does not fit, a body over the limit', async () => {
      await expectError(complete({ messages: [userTurn('lorem ipsum '.repeat(5000), sampleUrl)] }), 400, 'context_length_exceeded', /context holds 8192/);
      const res = await fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: MODEL, pad: 'x'.repeat(LIMITS.maxBodyBytes) }) });
      expect(res.status).toBe(413);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('request_too_large');
    });

    it('--api-key: 401 without or with a wrong bearer token', async () => {
      const at = (apiKey: string) => new OpenAI({ baseURL: `${keyedUrl}/v1`, apiKey, maxRetries: 0 });
      await expectError(at('wrong').models.list(), 401, 'invalid_api_key', /incorrect API key/);
      const res = await fetch(`${keyedUrl}/v1/models`);
      expect(res.status).toBe(401);
      expect((await at(KEY).models.list()).data[0]!.id).toBe(MODEL);
    });

    it('the server is still healthy after all of them', async () => {
      const h = await health();
      expect(h.queue).toMatchObject({ running: false, waiting: 0 });
      const r = await complete({ messages: [userTurn(replay.question, sampleUrl)], vilavt: { replay: replay.assistant_turns } });
      expect(r.vilavt.answer).toBe('circle');
    });
  });
});

describe('the app engine protocol over the server (RemoteEngineClient, as `vilavt app` drives it)', () => {
  it('hello, load the server model, ask with a replay, follow up from the KV cache, stop, new chat', async () => {
    const remote = new Engine(new RemoteEngineClient(base));
    const info = await remote.info();
    expect(info).toMatchObject({ kind: 'remote', sources: ['server'], cache: false });
    expect(info.unavailable).toBeUndefined();
    const loaded = await remote.load({ kind: 'server' });
    expect(loaded).toMatchObject({ source: 'server', name: MODEL, activations: 'f32' });
    await expect(remote.load({ kind: 'url', url: 'http://example.com/m' })).rejects.toMatchObject({ kind: 'unsupported' });

    const sample = new Uint8Array(await readFile(join(dir, 'sample.png')));
    const events: ChatEvent[] = [];
    const r = await remote.ask({ question: replay.question, images: [{ name: 'sample.png', bytes: sample }], replay: replay.assistant_turns }, (e) => events.push(e));
    expect(r).toEqual({ answer: 'circle', rounds: 3, stopReason: 'answer' });
    const regions = events.filter((e): e is Extract<ChatEvent, { type: 'region' }> => e.type === 'region');
    expect(regions).toHaveLength(2);
    // Region pixels travel as bytes: the crop the model saw, at its processed size.
    expect(regions[0]!.image.data).toBeInstanceOf(Uint8Array);
    expect(regions[0]!.image.data.length).toBe(regions[0]!.processed_size[0] * regions[0]!.processed_size[1] * 3);
    const turns = events.filter((e): e is Extract<ChatEvent, { type: 'turn' }> => e.type === 'turn');
    const last = turns.at(-1)!;

    const follow: ChatEvent[] = [];
    await remote.ask({ question: 'What colour is it?', images: [], replay: ['<answer> red </answer>'] }, (e) => follow.push(e));
    const t = follow.find((e): e is Extract<ChatEvent, { type: 'turn' }> => e.type === 'turn')!;
    expect(t.reused_tokens).toBe(last.prompt_tokens + last.generated_tokens);
    expect(t.vision_tokens_encoded).toBe(0);

    // Stop during a long sampled answer: the ask fails with 'aborted' and the conversation stays usable.
    let seen = 0;
    const long = remote.ask({ question: 'Describe everything.', images: [], sampling: { greedy: true }, maxNewTokens: 6000, maxRounds: 1 }, (e) => {
      if (e.type === 'token' && ++seen === 3) void remote.stop();
    });
    const err = await long.then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(EngineCommandError);
    expect((err as EngineCommandError).kind).toBe('aborted');
    const again: ChatEvent[] = [];
    await remote.ask({ question: 'And its shape?', images: [], replay: ['<answer> circle </answer>'] }, (e) => again.push(e));
    // At least the whole conversation before the stopped message (the cache may still share a few tokens of its prompt).
    const againTurn = again.find((e): e is Extract<ChatEvent, { type: 'turn' }> => e.type === 'turn')!;
    expect(againTurn.reused_tokens).toBeGreaterThanOrEqual(t.prompt_tokens + t.generated_tokens);
    expect(againTurn.vision_tokens_encoded).toBe(0);

    await remote.newChat();
    await expect(remote.ask({ question: 'no image', images: [] }, () => {})).rejects.toMatchObject({ kind: 'bad_input' });
    remote.client.close();
  });
});

describe('a lost GPU device under the server', () => {
  it('fails the request with device-lost, reloads the model on a new device, and the next requests answer as before', async () => {
    const ckpt = join(dir, 'checkpoint');
    const text = await loadTokenizerDir(ckpt);
    const devices: Gpu[] = []; // strongly referenced (Dawn), lost or not
    const models: VilavtModel[] = [];
    const load = async () => {
      const gpu = await createNodeGpu();
      devices.push(gpu);
      const t0 = performance.now();
      const m = await VilavtModel.load(gpu, await openCheckpointDir(ckpt), { activations: 'f32' });
      models.push(m);
      return { gpu, model: m, text, loadMs: performance.now() - t0 };
    };
    /** The device of the current model dies as its next prefill starts. */
    const loseAtNextPrefill = () => {
      const m = models.at(-1)!;
      const gpu = devices.at(-1)!;
      const prefill = m.llm.prefill.bind(m.llm);
      m.llm.prefill = (...a: Parameters<typeof prefill>) => {
        gpu.device.destroy();
        return prefill(...a);
      };
    };
    const first = await load();
    const own = nodeEngine(first, { name: MODEL, context: 8192, maxPixels: 1_000_000, cacheMb: 1024 }, load);
    const [, url] = await serve({ engine: own.engine });
    const c = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const body = { messages: [userTurn(replay.question, sampleUrl)], vilavt: { replay: replay.assistant_turns } };
    const view = (r: Completion) => ({
      content: r.choices[0]!.message.content, answer: r.vilavt.answer, usage: r.usage,
      rounds: r.vilavt.rounds.map((x) => ({ ...x, timings: null, tokens_per_s: null })),
    });
    const before = view(await complete(body, c));

    loseAtNextPrefill();
    const e = await apiError(complete(body, c));
    expect(e.status).toBe(500);
    expect(e.code).toBe('device-lost');
    expect((await health(url) as unknown as { device: object }).device).toEqual({ lost: 1, reloaded: 1, reload_error: null });
    expect(devices).toHaveLength(2);

    // Served from the new device: the same answer, rounds and usage as before the loss; follow-ups work again.
    const after = await complete(body, c);
    expect(view(after)).toEqual(before);
    const follow = await complete({
      messages: [userTurn(replay.question, sampleUrl), { role: 'assistant', content: after.choices[0]!.message.content }, userTurn('And its colour?')],
      vilavt: { replay: ['<answer> red </answer>'] },
    }, c);
    expect(follow.vilavt).toMatchObject({ conversation: 'continued', answer: 'red' });

    // The app's engine protocol (`vilavt app`): the ask that meets a loss fails as device_lost, the next one answers.
    const remote = new Engine(new RemoteEngineClient(url));
    await remote.load({ kind: 'server' });
    const ask = { question: replay.question, images: [{ name: 'sample.png', bytes: new Uint8Array(await readFile(join(dir, 'sample.png'))) }], replay: replay.assistant_turns };
    loseAtNextPrefill();
    await expect(remote.ask(ask, () => {})).rejects.toMatchObject({ kind: 'device_lost' });
    expect((await health(url) as unknown as { device: object }).device).toEqual({ lost: 2, reloaded: 2, reload_error: null });
    expect(await remote.ask(ask, () => {})).toEqual({ answer: 'circle', rounds: 3, stopReason: 'answer' });
    remote.client.close();
    own.dispose();
    for (const g of devices) g.destroy();
  });
});
