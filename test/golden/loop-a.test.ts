import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { expectEveryCasePasses } from '../helpers/golden-cases.js';
import { runLoopGolden } from '../../src/golden/loop.js';

const DIR = fileURLToPath(new URL('../fixtures/golden/loop-a', import.meta.url));

it('replays every loop-a trajectory through ChatDriver exactly', async () => {
  const { ok, lines } = await runLoopGolden(DIR);
  if (!ok) console.log(lines.join('\n'));
  expectEveryCasePasses(DIR, lines);
  expect(ok).toBe(true);
}, 60_000);
