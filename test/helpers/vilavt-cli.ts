// Runs the `vilavt` command as a child process, as a user runs it.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Run { code: number; stdout: string; stderr: string }

export function vilavt(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, 'bin/vilavt.mjs'), ...args], { cwd: ROOT, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** stderr without Dawn's own adapter warnings. */
export const ourLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l && !l.startsWith('Warning: '));
