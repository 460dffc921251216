// Per-case assertions for the loop goldens: every trajectory of DIR/cases.json must have its own PASS line
// (a runner that skipped a case, or reported one twice, fails here naming it).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';

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
