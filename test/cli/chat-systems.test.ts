// `vilavt chat --system deepeyes|pixelreasoner` end to end on the demo's plain qwen2_5_vl checkpoint (real Qwen2.5
// vocabulary, tiny random weights, replayed turns): the crops are saved, the boxes drawn on the original, the answer
// extracted by the system's rule; a plain checkpoint whose name does not say which system it is needs --system.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeImageFile } from '../../src/platform/node-image.js';
import { demoDir } from '../helpers/demo.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
interface Run { code: number; stdout: string; stderr: string }
function vilavt(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, 'bin/vilavt.mjs'), ...args], { cwd: ROOT, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}
const ourLines = (stderr: string) => stderr.split('\n').filter((l) => l && !l.startsWith('Warning: ') && !l.startsWith('model '));

let demo: string;
let tmp: string;
beforeAll(async () => {
  demo = await demoDir();
  tmp = mkdtempSync(join(tmpdir(), 'vilavt-cli-systems-'));
}, 180_000);

describe('vilavt chat --system', () => {
  it.each([
    ['deepeyes', 2, 'answer'],
    ['pixelreasoner', 3, 'no_tool_call'],
  ] as const)('%s: replayed trajectory, crops saved, boxes drawn, answer', async (system, rounds, stop) => {
    const out = join(tmp, system);
    const r = await vilavt(['chat', '--system', system, '--model', join(demo, 'plain-checkpoint'), '--image', join(demo, 'sample.png'),
      '--replay', join(demo, `replay-${system}.json`), '--json', '--out', out]);
    expect(ourLines(r.stderr), r.stderr).toEqual([]);
    expect(r.code).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const regions = events.filter((e) => e.type === 'region');
    expect(regions).toHaveLength(rounds - 1);
    for (const e of regions) {
      expect(existsSync(e.saved)).toBe(true);
      const png = await decodeImageFile(e.saved);
      expect([png.width, png.height]).toEqual(e.processed_size);
    }
    const annotated = await decodeImageFile(join(out, 'sample_zooms.png'));
    expect([annotated.width, annotated.height]).toEqual([640, 480]);
    expect(events.at(-1)).toEqual({ type: 'done', answer: 'circle', rounds, stop_reason: stop, system });
  }, 240_000);

  it('a plain checkpoint without a telling name needs --system; vilavt on it is refused', async () => {
    const base = ['chat', '--model', join(demo, 'plain-checkpoint'), '--image', join(demo, 'sample.png'), 'What is it?'];
    const r1 = await vilavt(base);
    expect(r1.code).toBe(2); // a usage error
    expect(ourLines(r1.stderr).join('\n')).toMatch(/pass --system deepeyes or --system pixelreasoner/);
    const r2 = await vilavt([...base, '--system', 'vilavt']);
    expect(r2.code).toBe(1);
    expect(ourLines(r2.stderr).join('\n')).toMatch(/plain qwen2_5_vl checkpoint \(no text encoder\)/);
  }, 120_000);
});

describe('vilavt compare', () => {
  it('runs one question through each system given, per call: crops, visual tokens encoded and reused, time', async () => {
    const r = await vilavt(['compare', '--model', `deepeyes=${join(demo, 'plain-checkpoint')}`, '--model', `pixelreasoner=${join(demo, 'plain-checkpoint')}`,
      '--image', join(demo, 'sample.png'), '--replay', `deepeyes=${join(demo, 'replay-deepeyes.json')}`,
      '--replay', `pixelreasoner=${join(demo, 'replay-pixelreasoner.json')}`, '--json', 'What shape is on the left end of the sign next to the tree?']);
    expect(ourLines(r.stderr), r.stderr).toEqual([]);
    expect(r.code).toBe(0);
    const runs = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(runs.map((x) => [x.system, x.rounds.length, x.answer])).toEqual([['deepeyes', 2, 'circle'], ['pixelreasoner', 3, 'circle']]);
    for (const x of runs) {
      expect(x.rounds.map((c: { crops: number }) => c.crops)).toEqual(x.system === 'deepeyes' ? [1, 0] : [1, 1, 0]);
      expect(x.rounds[0].visionReused).toBe(0);
      // Every later call re-encodes only the new crop and reuses all earlier images from the KV cache.
      for (let i = 1; i < x.rounds.length; i++) expect(x.rounds[i].visionReused).toBe(x.rounds[i - 1].visionReused + x.rounds[i - 1].visionEncoded);
      for (const c of x.rounds) expect(c.ms).toBeGreaterThan(0);
    }
  }, 240_000);
});
