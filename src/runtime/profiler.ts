// Per-kernel GPU time from timestamp queries (GpuOptions.profile; needs the 'timestamp-query' feature). In profile
// mode the recorder gives every dispatch its own compute pass whose beginning and end write a timestamp; at each
// submit the pairs are resolved and copied to a mappable buffer, read back asynchronously and summed per kernel
// variant (kernel file plus the defines it was compiled with). Profiling changes the timing it measures a little
// (one pass per dispatch) and is never on by default: the hot path stays one pass, one submit.

/** Time spent in one kernel variant since the last reset. */
export interface KernelTime { kernel: string; dispatches: number; ms: number }

import type { BufferFactory } from './buffer-ledger.js';

const PAIRS = 1024; // dispatches timed per submit (a full set makes the recorder submit early)
const QUERY_RESOLVE = 0x0200, COPY_SRC = 0x0004, COPY_DST = 0x0008, MAP_READ = 0x0001;

export class GpuProfiler {
  private readonly querySet: GPUQuerySet;
  private readonly resolveBuffer: GPUBuffer;
  private readonly freeStaging: GPUBuffer[] = [];
  private names: string[] = [];
  private readonly totals = new Map<string, { dispatches: number; ns: number }>();
  private pending: Promise<void>[] = [];

  constructor(device: GPUDevice, private readonly buffers: BufferFactory) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: 2 * PAIRS });
    this.resolveBuffer = buffers.createBuffer(16 * PAIRS, QUERY_RESOLVE | COPY_SRC, 'profiler-resolve');
  }

  /** True when the current batch has no room for another timed dispatch (the recorder submits first). */
  get full(): boolean { return this.names.length === PAIRS; }

  /** The pass descriptor that times the next dispatch, recorded under `kernel`. */
  timedPass(kernel: string): GPUComputePassDescriptor {
    const i = this.names.length;
    this.names.push(kernel);
    return { timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } };
  }

  /** Before the encoder is finished: resolve this batch's timestamps into a staging buffer. */
  resolve(encoder: GPUCommandEncoder): (() => void) | null {
    const n = this.names.length;
    if (n === 0) return null;
    const names = this.names;
    this.names = [];
    const staging = this.freeStaging.pop() ??
      this.buffers.createBuffer(16 * PAIRS, MAP_READ | COPY_DST, 'profiler-staging');
    encoder.resolveQuerySet(this.querySet, 0, 2 * n, this.resolveBuffer, 0);
    encoder.copyBufferToBuffer(this.resolveBuffer, 0, staging, 0, 16 * n);
    // After the submit: read the pairs back and add them up (in the background; `collect` waits).
    return () => {
      this.pending.push(staging.mapAsync(MAP_READ, 0, 16 * n).then(() => {
        const t = new BigUint64Array(staging.getMappedRange(0, 16 * n));
        for (let i = 0; i < n; i++) {
          const ns = t[2 * i + 1]! > t[2 * i]! ? Number(t[2 * i + 1]! - t[2 * i]!) : 0;
          const e = this.totals.get(names[i]!) ?? { dispatches: 0, ns: 0 };
          e.dispatches++;
          e.ns += ns;
          this.totals.set(names[i]!, e);
        }
        staging.unmap();
        this.freeStaging.push(staging);
      }));
    };
  }

  /** Wait for every submitted batch and return the times per kernel variant, longest first. */
  async collect(): Promise<KernelTime[]> {
    const p = this.pending;
    this.pending = [];
    await Promise.all(p);
    return [...this.totals].map(([kernel, e]) => ({ kernel, dispatches: e.dispatches, ms: e.ns / 1e6 }))
      .sort((a, b) => b.ms - a.ms);
  }

  /** Forget what was measured (batches still in flight are waited for first). */
  async reset(): Promise<void> {
    await this.collect();
    this.totals.clear();
  }

  destroy(): void {
    this.querySet.destroy();
    this.buffers.destroyBuffer(this.resolveBuffer);
    for (const b of this.freeStaging) this.buffers.destroyBuffer(b);
  }
}

/** The table `--profile` prints: one line per kernel variant, with its share of the total. */
export function formatKernelTimes(title: string, times: readonly KernelTime[]): string {
  const total = times.reduce((s, t) => s + t.ms, 0);
  const lines = [`${title}: ${total.toFixed(3)} ms of GPU time in ${times.reduce((s, t) => s + t.dispatches, 0)} dispatches`];
  for (const t of times) {
    lines.push(`  ${t.kernel.padEnd(48)} ${t.ms.toFixed(3).padStart(10)} ms ${String(t.dispatches).padStart(6)}×  ` +
      `${(total > 0 ? (100 * t.ms) / total : 0).toFixed(1).padStart(5)}%`);
  }
  return lines.join('\n');
}
