// Per-case assertions for the loop goldens: every trajectory of DIR/cases.json must have its own PASS line
// (a runner that skipped a case, or reported one twice, fails here naming it).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { GoldenOptions } from '../../src/golden/compare.js';

export function expectEveryCasePasses(dir: string, lines: readonly string[]): void {
  const cases = (JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as { trajectories: { name: string }[] }).trajectories;
  expect(cases.length).toBeGreaterThan(0);
  const verdicts = new Map<string, string[]>();
  for (const l of lines) {
    const m = /^(PASS|FAIL) (\S+)/.exec(l);
    if (m) verdicts.set(m[2]!, [...(verdicts.get(m[2]!) ?? []), l]);
  }
  for (const c of cases) expect(verdicts.get(c.name), `${c.name}:\n${lines.join('\n')}`).toEqual([`PASS ${c.name}`]);
  expect([...verdicts.keys()].sort()).toEqual(cases.map((c) => c.name).sort());
}

/** test/fixtures/golden/NAME. */
export const goldenDir = (name: string): string => fileURLToPath(new URL(`../fixtures/golden/${name}`, import.meta.url));

/** Replays the loop golden NAME with `run` (a runner of src/golden): a PASS line per case, no NOTE line. */
export async function expectLoopGoldenPasses(
  run: (dir: string, options?: GoldenOptions) => Promise<{ ok: boolean; lines: string[] }>, name: string, options: GoldenOptions = {},
): Promise<void> {
  const dir = goldenDir(name);
  const { ok, lines } = await run(dir, options);
  if (!ok) console.log(lines.join('\n'));
  expectEveryCasePasses(dir, lines);
  expect(lines.filter((l) => l.startsWith('NOTE'))).toEqual([]);
  expect(ok).toBe(true);
}
