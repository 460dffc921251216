import { it } from 'vitest';
import { expectLoopGoldenPasses } from '../helpers/golden-cases.js';
import { runPixelReasonerGolden } from '../../src/golden/pixelreasoner.js';

it('replays every pixelreasoner-a trajectory through PixelReasonerDriver exactly', () => expectLoopGoldenPasses(runPixelReasonerGolden, 'pixelreasoner-a'), 120_000);
