// Runs once in the main vitest process, before any test worker starts (workers inherit process.env).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export default function setup(): () => void {
  let ownRuntimeDir: string | undefined;
  // Dawn needs a private runtime dir (mode 0700); CI jobs and containers often have none.
  if (!process.env.XDG_RUNTIME_DIR) {
    ownRuntimeDir = mkdtempSync(join(tmpdir(), 'vilavt-xdg-')); // mkdtemp creates it with mode 0700
    process.env.XDG_RUNTIME_DIR = ownRuntimeDir;
  }
  // `npm test` regenerates kernels in pretest; this also covers `npx vitest run <file>`.
  const gen = join(root, 'scripts', 'gen-wgsl.mjs');
  if (existsSync(gen)) execFileSync(process.execPath, [gen], { cwd: root, stdio: 'inherit' });

  return () => {
    if (ownRuntimeDir) rmSync(ownRuntimeDir, { recursive: true, force: true });
  };
}
