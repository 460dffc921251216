import { it } from 'vitest';
import { expectLoopGoldenPasses } from '../helpers/golden-cases.js';
import { runLoopGolden } from '../../src/golden/loop.js';

it('replays every loop-a trajectory through ChatDriver exactly', () => expectLoopGoldenPasses(runLoopGolden, 'loop-a'), 60_000);
