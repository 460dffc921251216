import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { expectEveryCasePasses } from '../helpers/golden-cases.js';
import { runPixelReasonerGolden } from '../../src/golden/pixelreasoner.js';

const DIR = fileURLToPath(new URL('../fixtures/golden/pixelreasoner-a', import.meta.url));

it('replays every pixelreasoner-a trajectory through PixelReasonerDriver exactly', async () => {
  const { ok, lines } = await runPixelReasonerGolden(DIR);
  if (!ok) console.log(lines.join('\n'));
  expectEveryCasePasses(DIR, lines);
  expect(lines.filter((l) => l.startsWith('NOTE'))).toEqual([]);
  expect(ok).toBe(true);
}, 120_000);
