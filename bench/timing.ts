// Timing of GPU work by wall clock: submit, then wait for queue.onSubmittedWorkDone. Work shorter than a few
// milliseconds is repeated inside one submit so the submit/wait round trip (~0.1 ms on Dawn) does not dominate.
// (Timestamp queries would need timestampWrites on the recorder's compute passes; the wall clock is what an
// application sees and is good enough at the millisecond scale of these kernels.)
import type { Gpu } from '../src/runtime/device.js';
import type { Recorder } from '../src/runtime/recorder.js';

export interface BenchCase {
  /** Kernel family and variant, e.g. 'matvec bf16 (LLM mlp.gate_proj)'. */
  readonly name: string;
  /** Human-readable problem size, e.g. '[1x3584]·[18944x3584]ᵀ'. */
  readonly shape: string;
  /** Bytes the kernel must move at least (what GB/s is computed from; say in `note` what is counted). */
  readonly bytes: number;
  /** Floating-point operations (2 per multiply-add). */
  readonly flops: number;
  /** Part of the short `--quick` run. */
  readonly quick?: boolean;
  /** Anything a reader must know: scaled-down shapes, what `bytes` counts. */
  readonly note?: string;
  /** Allocate and fill inputs (called once, before timing). */
  setup(gpu: Gpu): void | Promise<void>;
  /** Record one repetition of the work. */
  record(rec: Recorder, gpu: Gpu): void;
  /** Free what setup allocated. */
  dispose(gpu: Gpu): void;
}

export interface Timing { msMedian: number; msMin: number; reps: number; perSubmit: number }

export interface TimingOptions { warmup?: number; reps?: number; targetMs?: number; maxPerSubmit?: number }

/** A warmed-up timer for one piece of work: each `sample()` is one wall-clock measurement (ms per repetition). */
export interface Sampler { sample(): Promise<number>; perSubmit: number; dispose(): void }

export async function prepareSampler(gpu: Gpu, record: (rec: Recorder) => void, opts: TimingOptions = {}): Promise<Sampler> {
  const { warmup = 2, targetMs = 20, maxPerSubmit = 64 } = opts;
  const rec = gpu.recorder();
  const run = async (times: number): Promise<number> => {
    const t0 = performance.now();
    for (let i = 0; i < times; i++) record(rec);
    rec.submit();
    await gpu.device.queue.onSubmittedWorkDone();
    return performance.now() - t0;
  };
  let once = Infinity;
  for (let i = 0; i < warmup; i++) once = Math.min(once, await run(1));
  await gpu.flushErrors(); // compile and validation errors surface here, not as a fast wrong timing
  const perSubmit = Math.max(1, Math.min(maxPerSubmit, Math.ceil(targetMs / Math.max(once, 1e-3))));
  return {
    perSubmit,
    sample: async () => (await run(perSubmit)) / perSubmit,
    dispose: () => rec.destroy(),
  };
}

/** Median wall-clock milliseconds of one call of `record`, after warm-up. */
export async function timeWork(gpu: Gpu, record: (rec: Recorder) => void, opts: TimingOptions = {}): Promise<Timing> {
  const { reps = 7 } = opts;
  const s = await prepareSampler(gpu, record, opts);
  const samples: number[] = [];
  for (let i = 0; i < reps; i++) samples.push(await s.sample());
  await gpu.flushErrors();
  s.dispose();
  samples.sort((a, b) => a - b);
  return { msMedian: median(samples), msMin: samples[0]!, reps, perSubmit: s.perSubmit };
}

export function median(sorted: readonly number[]): number {
  const n = sorted.length;
  return n % 2 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
}

/** Fast deterministic fill for large benchmark inputs (values in [-scale, scale), never denormal-prone zeros). */
export function fillUniform(out: Float32Array, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0 || 1;
  for (let i = 0; i < out.length; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; // xorshift32
    out[i] = ((s / 4294967296) * 2 - 1) * scale;
  }
  return out;
}
