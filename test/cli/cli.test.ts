// The `vilavt` command end to end (a child process, as a user runs it): `chat --json` replaying the golden
// trajectory loop-a/a03 (three zooms, crops of crops) on the demo checkpoint must show the golden's prompts
// (independent Python reference) and ChatDriver's, the golden's crops, exact KV reuse; bad input must give one line
// and exit 1. (The demo's two-zoom replay runs through the same session in test/chat/session.test.ts.)
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { ChatDriver } from '../../src/chat/driver.js';
import { decodeImageFile } from '../../src/platform/node-image.js';
import { demoDir } from '../helpers/demo.js';
import { ourLines, ROOT, vilavt } from '../helpers/vilavt-cli.js';

const LOOP = join(ROOT, 'test/fixtures/golden/loop-a');
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');


let demo: string;
let tmp: string;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const golden = JSON.parse(readFileSync(join(LOOP, 'cases.json'), 'utf8')) as any;
const a03 = golden.trajectories.find((t: { name: string }) => t.name === 'a03_crop_of_crop_of_crop');

beforeAll(async () => {
  demo = await demoDir();
  tmp = mkdtempSync(join(tmpdir(), 'vilavt-cli-'));
}, 180_000);

describe('vilavt chat', () => {
  it('--json --replay: golden prompts and crops, exact reuse per turn, answer; files saved', async () => {
    const input = a03.input;
    const replayFile = join(tmp, 'a03.json');
    writeFileSync(replayFile, JSON.stringify({ responses: input.responses }));
    const out = join(tmp, 'out');
    const args = ['chat', '--model', join(demo, 'checkpoint'), '--image', join(LOOP, input.images[0]), '--json', '--replay', replayFile,
      '--problem-type', input.problem_type, ...(input.options ?? []).flatMap((o: string) => ['--option', o]), '--out', out, input.question];
    const r = await vilavt(args);
    expect(ourLines(r.stderr).filter((l) => !l.startsWith('model ')), r.stderr).toEqual([]);
    expect(r.code).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const types = new Set(events.map((e) => e.type));
    expect([...types].sort()).toEqual(['answer', 'done', 'region', 'token', 'tool_call', 'turn']);

    // Prompts: the golden's (Python reference) and ChatDriver's for the same replay, call by call.
    const driver = new ChatDriver({
      images: [{ image: await decodeImageFile(join(LOOP, input.images[0])), name: input.images[0] }],
      question: input.question, problemType: input.problem_type, options: input.options,
    });
    const driverSha: string[] = [];
    for (let c = driver.nextCall(); c; c = driver.nextCall()) {
      driverSha.push(sha256(c.prompt));
      const resp = input.responses[c.call];
      driver.acceptResponse({ text: resp.text, finishReason: resp.finish_reason, stopReason: resp.stop_reason });
    }
    const turns = events.filter((e) => e.type === 'turn');
    expect(turns.map((t) => t.prompt_sha256)).toEqual(a03.expected.calls.map((c: { prompt_sha256: string }) => c.prompt_sha256));
    expect(turns.map((t) => t.prompt_sha256)).toEqual(driverSha);

    // Vision: the 391-token image once, then only each new crop; every later call prefills only what follows
    // the cached prompt + replayed response.
    expect(turns.map((t) => t.vision_tokens_encoded)).toEqual([391, 374, 154, 88]);
    expect(turns[0].reused_tokens).toBe(0);
    for (let i = 1; i < 4; i++) {
      expect(turns[i].reused_tokens).toBe(turns[i - 1].prompt_tokens + turns[i - 1].generated_tokens);
      expect(turns[i].prefill_tokens).toBe(turns[i].prompt_tokens - turns[i].reused_tokens);
      expect(turns[i].prefill_tokens).toBeGreaterThan(turns[i].vision_tokens_encoded); // the new pads + tool-response text
    }
    for (const t of turns) expect(Object.keys(t.timings).sort()).toEqual(['decode', 'prefill', 'text', 'vision']);

    // Crops as the golden recorded them, saved as PNG files of the processed size.
    const regions = events.filter((e) => e.type === 'region');
    const goldenCrops = a03.expected.calls.flatMap((c: { tool?: { crops: unknown[] } }) => c.tool?.crops ?? []);
    expect(regions.map((e) => [e.crop_box, e.processed_size, e.image_index])).toEqual(
      goldenCrops.map((c: { box: number[]; processed_wh: number[]; new_index: number }) => [c.box, c.processed_wh, c.new_index]));
    for (const e of regions) {
      const meta = await sharp(e.saved).metadata();
      expect([meta.width, meta.height]).toEqual(e.processed_size);
    }
    expect(existsSync(join(out, 'chart_640x480_zooms.png'))).toBe(true);
    expect(events.at(-1)).toEqual({ type: 'done', answer: a03.expected.final.answer, rounds: 4, stop_reason: 'answer', system: 'vilavt' });
  });

  it('--json on the demo\'s replayed two-zoom trajectory: every later turn prefills exactly its new tokens', async () => {
    const replay = JSON.parse(readFileSync(join(demo, 'replay.json'), 'utf8')) as { question: string; assistant_turns: string[] };
    const r = await vilavt(['chat', '--model', join(demo, 'checkpoint'), '--image', join(demo, 'sample.png'), '--json',
      '--replay', join(demo, 'replay.json'), '--out', join(tmp, 'demo-out'), replay.question]);
    expect(r.code, r.stderr).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const turns = events.filter((e) => e.type === 'turn');
    const regions = events.filter((e) => e.type === 'region');
    expect(events.filter((e) => e.type === 'tool_call')).toHaveLength(2);
    expect(regions).toHaveLength(2);
    expect(turns).toHaveLength(3);
    expect(turns[0].vision_tokens_encoded).toBe(391); // 640x480 is shown as 644x476: (644/28)*(476/28) = 23*17
    for (let i = 1; i < 3; i++) {
      // Served from the cache: the whole previous prompt and its replayed response.
      expect(turns[i].reused_tokens).toBe(turns[i - 1].prompt_tokens + turns[i - 1].generated_tokens);
      expect(turns[i].prefill_tokens).toBe(turns[i].prompt_tokens - turns[i].reused_tokens);
      // Vision only for the one new crop of the previous call.
      expect(turns[i].vision_tokens_encoded).toBe(regions[i - 1].pad_tokens);
    }
    expect(events.filter((e) => e.type === 'token').map((e) => e.text).join('')).toBe(replay.assistant_turns.join(''));
    expect(events.at(-1)).toEqual({ type: 'done', answer: 'circle', rounds: 3, stop_reason: 'answer', system: 'vilavt' });
  });

  it('bad input: one line on stderr, no stack trace, exit status 1', async () => {
    const model = join(demo, 'checkpoint');
    const wide = join(tmp, 'wide.png');
    await sharp({ create: { width: 603, height: 3, channels: 3, background: { r: 9, g: 9, b: 9 } } }).png().toFile(wide);
    const notImage = join(tmp, 'not-image.png');
    writeFileSync(notImage, 'hello');
    const emptyModel = mkdtempSync(join(tmpdir(), 'vilavt-empty-'));
    const cases: [string[], RegExp][] = [
      [['chat', '--model', model, '--image', join(tmp, 'missing.png'), 'q'], /cannot read image file .*missing\.png/],
      [['chat', '--model', model, '--image', notImage, 'q'], /cannot identify image file/],
      [['chat', '--model', model, '--image', wide, 'q'], /absolute aspect ratio must be smaller than 200/],
      [['chat', '--model', join(tmp, 'no-model'), '--image', wide, 'q'], /model directory not found/],
      [['chat', '--model', emptyModel, '--image', join(LOOP, 'chart_640x480.png'), 'q'], /tokenizer\.json is missing/],
      [['chat', '--model', model, '--image', join(LOOP, 'chart_640x480.png'), '--context', '64', '--replay', join(tmp, 'a03.json'), 'q'], /context overflow/],
    ];
    for (const [args, message] of cases) {
      const r = await vilavt(args);
      const lines = ourLines(r.stderr).filter((l) => !l.startsWith('model '));
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^error: /);
      expect(lines[0]).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.code).toBe(1);
    }
  });

  it('usage errors exit 2; golden dispatches a loop folder and a decode folder', async () => {
    expect((await vilavt(['chat', '--image', 'x.png', 'q'])).code).toBe(2);
    expect((await vilavt(['frobnicate'])).code).toBe(2);
    const g = await vilavt(['golden', LOOP]);
    expect(g.code).toBe(0);
    expect(g.stdout).toMatch(/all 14 checks passed/);
    const d = await vilavt(['golden', join(ROOT, 'test/fixtures/golden/decode-a')]);
    expect(d.code, d.stdout + d.stderr).toBe(0);
    expect(d.stdout.split('\n').filter((l) => /^PASS \S+ \(/.test(l))).toHaveLength(13);
    expect(d.stdout).toMatch(/all 13 checks passed/);
  });
});
