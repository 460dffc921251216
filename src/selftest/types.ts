import type { Gpu } from '../runtime/device.js';

/** Outcome of one case. `skipped`: the case needs a feature this device lacks (reported, never counted as a pass). */
export interface SelfTestOutcome { ok: boolean; maxRelErr: number; detail?: string; skipped?: boolean }

export interface SelfTestCase { name: string; run(gpu: Gpu): Promise<SelfTestOutcome> }
