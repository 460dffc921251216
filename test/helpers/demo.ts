// The demo assets of scripts/make-demo.ts (tiny random-weight checkpoint with the real Qwen2.5 vocabulary and
// tokenizers, sample.png, a two-zoom replay), generated once per machine into the temp folder and shared by test
// files: generated under a private name, then renamed into place, so parallel test files never see half a folder.
import { existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDemo } from '../../scripts/make-demo.js';

export async function demoDir(): Promise<string> {
  const dir = join(tmpdir(), `vilavt-test-demo-${process.getuid?.() ?? 'user'}`);
  if (existsSync(join(dir, 'stamp.json'))) {
    await makeDemo(dir); // up to date: a no-op; stale (generator changed): regenerated
    return dir;
  }
  const mine = `${dir}.tmp-${process.pid}`;
  await makeDemo(mine);
  try {
    await rename(mine, dir);
  } catch {
    await rm(mine, { recursive: true, force: true }); // another test file won the race
  }
  return dir;
}
