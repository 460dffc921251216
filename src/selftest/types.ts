import type { Gpu } from '../runtime/device.js';

export interface SelfTestCase { name: string; run(gpu: Gpu): Promise<{ ok: boolean; maxRelErr: number; detail?: string }> }
