// `vilavt chat` / `inspect` on awkward inputs (issue 11, defects 3, 4, 6): images sharing a base name, empty and
// used-up replays, flags and files that must be refused before the model loads, each with one clear line.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { demoDir } from '../helpers/demo.js';
import { ourLines, ROOT, vilavt } from '../helpers/vilavt-cli.js';

const LOOP = join(ROOT, 'test/fixtures/golden/loop-a');


let model: string;
let tmp: string;
const ZOOM_IMAGE_1 = '<tool>{"region": [{"index": 1, "bbox_2d": [100, 100, 380, 300]}], "query": "the left part"}</tool>';

beforeAll(async () => {
  model = join(await demoDir(), 'checkpoint');
  tmp = mkdtempSync(join(tmpdir(), 'vilavt-cli-inputs-'));
  // Two files with one base name; small, so the software-GPU work stays short: a/x.png 252x196 grey, b/x.png 420x308 blue.
  for (const [dir, width, height, b] of [['a', 252, 196, 128], ['b', 420, 308, 255]] as const) {
    mkdirSync(join(tmp, dir), { recursive: true });
    await sharp({ create: { width, height, channels: 3, background: { r: 128, g: 128, b } } }).png().toFile(join(tmp, dir, 'x.png'));
  }
}, 180_000);

describe('vilavt chat: images and replays', () => {
  it('draws zoom boxes on the right image when two files share a base name', async () => {
    const replay = join(tmp, 'zoom1.json');
    writeFileSync(replay, JSON.stringify([ZOOM_IMAGE_1, '<answer>x</answer>']));
    const out = join(tmp, 'out-shared');
    const r = await vilavt(['chat', '--model', model, '--image', join(tmp, 'a/x.png'), '--image', join(tmp, 'b/x.png'), '--replay', replay,
      '--json', '--out', out, 'q']);
    expect(r.code, r.stderr).toBe(0);
    const region = r.stdout.trim().split('\n').map((l) => JSON.parse(l)).find((e) => e.type === 'region');
    expect(region).toMatchObject({ source_index: 1, original_index: 1, original: join(tmp, 'b/x.png') });
    // The overlay is a copy of b/x.png, named apart from a/x.png's.
    expect(readdirSync(out).filter((f) => f.endsWith('_zooms.png'))).toEqual(['x_image1_zooms.png']);
    const meta = await sharp(join(out, 'x_image1_zooms.png')).metadata();
    expect([meta.width, meta.height]).toEqual([420, 308]);
  });

  it('refuses an empty replay; says in one line (and one event) when the replay is used up', async () => {
    const empty = join(tmp, 'empty.json');
    writeFileSync(empty, '[]');
    const r0 = await vilavt(['chat', '--model', model, '--image', join(LOOP, 'chart_640x480.png'), '--replay', empty, 'q']);
    expect(ourLines(r0.stderr)).toEqual([expect.stringMatching(/^error: replay file .*empty\.json: the list of turns is empty/)]);
    expect(r0.code).toBe(1);

    // One replayed turn whose call fails validation, then the second call is sampled (2 tokens).
    const one = join(tmp, 'one.json');
    writeFileSync(one, JSON.stringify(['<tool>{"region": 5, "query": "q"}</tool>']));
    const args = ['chat', '--model', model, '--image', join(tmp, 'a/x.png'), '--replay', one, '--max-rounds', '2',
      '--max-new-tokens', '2', '--greedy', '--out', join(tmp, 'out-one'), 'q'];
    const text = await vilavt(args);
    expect(text.code, text.stderr).toBe(0);
    const notes = text.stdout.split('\n').filter((l) => l.includes('[replay]'));
    expect(notes).toEqual(['  [replay] the 1 replayed turn(s) are used up: call 2 and later calls are sampled']);
    expect(text.stdout).not.toMatch(/query null/);
    expect(text.stdout).toMatch(/\[zoom\] rejected call: no regions\n {2}\[tool error\] Zoom-in failed: 'int' object is not iterable/);
    const json = await vilavt([...args, '--json']);
    const events = json.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(events.filter((e) => e.type === 'replay_end')).toEqual([{ type: 'replay_end', call: 1, replayed: 1 }]);
    // It comes right before the sampled call's tokens.
    const at = events.findIndex((e) => e.type === 'replay_end');
    expect(events.slice(0, at).filter((e) => e.type === 'turn')).toHaveLength(1);
  });
});

describe('vilavt chat / inspect: refused before the model loads, one line each', () => {
  it('flags and files', async () => {
    const img = join(LOOP, 'chart_640x480.png');
    const aFile = join(tmp, 'a-file');
    writeFileSync(aFile, 'x');
    // A checkpoint whose tokenizer.json never ends.
    const endless = join(tmp, 'endless-tokenizer');
    mkdirSync(endless);
    for (const f of readdirSync(model)) symlinkSync(join(model, f), join(endless, f));
    const { unlinkSync } = await import('node:fs');
    unlinkSync(join(endless, 'tokenizer.json'));
    symlinkSync('/dev/zero', join(endless, 'tokenizer.json'));
    const cases: [string[], number, RegExp][] = [
      [['--out', aFile], 1, /--out .*a-file is not a directory/],
      [['--temperature', '0'], 2, /--temperature must be > 0, got 0 \(use --greedy/],
      [['--top-p', '0'], 2, /--top-p must be in \(0, 1\], got 0/],
      [['--context', '2000000'], 1, /--context: 2000000 tokens is over the model's context \(max_position_embeddings \d+\); use \d+ or less/],
    ];
    for (const [flags, code, message] of cases) {
      const r = await vilavt(['chat', '--model', model, '--image', img, ...flags, 'q']);
      const lines = ourLines(r.stderr);
      expect(lines[0], r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/loaded in/);
      if (code === 1) expect(lines).toHaveLength(1);
      expect(r.code).toBe(code);
    }
    const r = await vilavt(['chat', '--model', endless, '--image', img, 'q']);
    expect(ourLines(r.stderr)).toEqual([expect.stringMatching(/^error: tokenizer\.json \(.*\) is not a regular file$/)]);
    expect(r.code).toBe(1);
  });

  it('inspect: one line for a truncated file, the file named for a non-JSON config', async () => {
    const cut = join(tmp, 'truncated');
    mkdirSync(cut);
    for (const f of readdirSync(model)) if (f !== 'model.safetensors') symlinkSync(join(model, f), join(cut, f));
    const { readFileSync } = await import('node:fs');
    writeFileSync(join(cut, 'model.safetensors'), readFileSync(join(model, 'model.safetensors')).subarray(0, 300_000));
    const r = await vilavt(['inspect', '--model', cut]);
    expect(ourLines(r.stderr)).toEqual([expect.stringMatching(/^error: model\.safetensors: truncated: .* tensor\(s\) past the end, first /)]);
    expect(r.code).toBe(1);

    const bad = join(tmp, 'bad-config.json');
    writeFileSync(bad, 'notjson{');
    const r2 = await vilavt(['inspect', '--model', bad]);
    expect(ourLines(r2.stderr)).toEqual([expect.stringMatching(new RegExp(`^error: ${bad.replaceAll('/', '\\/')}: \\(root\\): invalid JSON: `))]);
    expect(r2.code).toBe(1);
    expect(existsSync(bad)).toBe(true);
  });
});
