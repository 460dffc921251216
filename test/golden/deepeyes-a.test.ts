import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { expectEveryCasePasses } from '../helpers/golden-cases.js';
import { runDeepEyesGolden } from '../../src/golden/deepeyes.js';

const DIR = fileURLToPath(new URL('../fixtures/golden/deepeyes-a', import.meta.url));

it('replays every deepeyes-a trajectory through DeepEyesDriver exactly', async () => {
  const { ok, lines } = await runDeepEyesGolden(DIR);
  if (!ok) console.log(lines.join('\n'));
  expectEveryCasePasses(DIR, lines);
  expect(lines.filter((l) => l.startsWith('NOTE'))).toEqual([]);
  expect(ok).toBe(true);
}, 120_000);
