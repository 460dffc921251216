import { it } from 'vitest';
import { expectLoopGoldenPasses } from '../helpers/golden-cases.js';
import { runDeepEyesGolden } from '../../src/golden/deepeyes.js';

it('replays every deepeyes-a trajectory through DeepEyesDriver exactly', () => expectLoopGoldenPasses(runDeepEyesGolden, 'deepeyes-a'), 120_000);
