// The kernel self-test: every kernel family against its float64 CPU reference on small random shapes. Runs the
// same in Node (npm run selftest) and in a browser page (src/browser/selftest-page.ts).
import type { Gpu } from '../runtime/device.js';
import type { SelfTestCase } from './types.js';
import { selfTests as matmul } from './matmul.js';
import { selfTests as matmulQ4 } from './matmul-q4.js';
import { selfTests as attention } from './attention.js';
import { selfTests as rmsnorm } from './rmsnorm.js';
import { selfTests as activation } from './activation.js';
import { selfTests as rope } from './rope.js';
import { selfTests as rows } from './rows.js';
import { selfTests as sample } from './sample.js';

export type { SelfTestCase } from './types.js';

export const ALL_SELF_TESTS: readonly SelfTestCase[] = [...matmul, ...matmulQ4, ...attention, ...rmsnorm, ...activation, ...rope, ...rows, ...sample];

export interface SelfTestResult { name: string; ok: boolean; maxRelErr: number; detail?: string; skipped?: boolean; ms: number }

export async function runSelfTest(gpu: Gpu, onResult?: (r: SelfTestResult) => void): Promise<SelfTestResult[]> {
  const out: SelfTestResult[] = [];
  for (const c of ALL_SELF_TESTS) {
    const t0 = performance.now();
    let r: SelfTestResult;
    try {
      const res = await c.run(gpu);
      r = { name: c.name, ...res, ms: performance.now() - t0 };
    } catch (e) {
      r = { name: c.name, ok: false, maxRelErr: Infinity, detail: (e as Error).message, ms: performance.now() - t0 };
    }
    out.push(r);
    onResult?.(r);
  }
  return out;
}
