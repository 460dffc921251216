// The demo assets of scripts/make-demo.ts (tiny random-weight checkpoint with the real Qwen2.5 vocabulary and
// tokenizers, sample.png, a two-zoom replay), generated once per machine into the temp folder and shared by test
// files. The folder is named after the generator's input key, so a folder is never rewritten while another test
// file reads it: new inputs give a new folder, generated under a private name and then renamed into place.
import { existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inputsKey, makeDemo } from '../../scripts/make-demo.js';

export async function demoDir(): Promise<string> {
  const key = (await inputsKey()).slice(0, 16);
  const dir = join(tmpdir(), `vilavt-test-demo-${process.getuid?.() ?? 'user'}-${key}`);
  if (existsSync(join(dir, 'stamp.json'))) return dir;
  const mine = `${dir}.tmp-${process.pid}`;
  await makeDemo(mine);
  try {
    await rename(mine, dir);
  } catch {
    await rm(mine, { recursive: true, force: true }); // another test file won the race
  }
  return dir;
}
