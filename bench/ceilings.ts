// What this adapter can do at best, measured in the same run as the kernels: buffer copy bandwidth, the read
// bandwidth of the best of a few plain streaming kernels (what any kernel could hope to stream), the rate of a
// register-only FMA kernel, and the cost of one more dispatch in a pass.
import type { Gpu } from '../src/runtime/device.js';
import { buildModule } from '../src/runtime/wgsl.js';
import { foldWorkgroups } from '../src/runtime/recorder.js';
import { prepareSampler, timeWork, type TimingOptions } from './timing.js';

export interface Ceilings {
  /** Bytes copied per second by copyBufferToBuffer (each byte read once and written once). */
  copyGbps: number;
  /** Bytes read per second by the best streaming kernel, and which one it was. */
  streamGbps: number;
  streamKernel: string;
  /** Every streaming variant tried: name -> GB/s. */
  streamVariants: Record<string, number>;
  /** f32 FMA rate of a register-only kernel (2 flops per FMA). */
  fmaGflops: number;
  /** Extra wall-clock microseconds per tiny dispatch when many are recorded in one pass. */
  dispatchOverheadUs: number;
  bufferBytes: number;
  /**
   * Re-measure the best streaming kernel and the FMA kernel now (GB/s, GFLOP/s): the runner interleaves these
   * with each kernel's repetitions, so a kernel's fractions compare timings taken moments apart. On a shared or
   * throttled host the ceilings drift during a run; paired ratios cancel that drift.
   */
  probe(): Promise<{ streamGbps: number; fmaGflops: number }>;
  dispose(): void;
}

// Each invocation reads PER consecutive vec4<u32> (a contiguous chunk, like a matrix-vector row) or strided
// across the grid (coalesced, like a GPU wants), with two independent accumulators.
function streamKernel(wg: number, per: number, chunked: boolean): string {
  const at = (i: string) => (chunked ? `base + ${i}` : `gid + ${i} * total`);
  return `
@group(0) @binding(0) var<storage, read> a: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) l: u32) {
  let gid = (wid.x + wid.y * nwg.x) * ${wg}u + l;
  let total = nwg.x * nwg.y * ${wg}u;
  let base = gid * ${per}u;
  var s0 = vec4<u32>();
  var s1 = vec4<u32>();
  for (var i = 0u; i < ${per}u; i += 2u) {
    s0 += a[${at('i')}];
    s1 += a[${at('(i + 1u)')}];
  }
  let s = s0 ^ s1;
  out[gid] = s.x ^ s.y ^ s.z ^ s.w;
}`;
}

// 8 independent vec4 FMA chains per invocation, ITER iterations, no memory traffic but one store.
const FMA_ITER = 512;
function fmaKernel(wg: number): string {
  return `
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(${wg})
fn main(@builtin(global_invocation_id) g: vec3u) {
  let seed = f32(g.x & 7u) * 1e-3;
  var a0 = vec4f(seed); var a1 = a0 + 1.0; var a2 = a0 + 2.0; var a3 = a0 + 3.0;
  var a4 = a0 + 4.0; var a5 = a0 + 5.0; var a6 = a0 + 6.0; var a7 = a0 + 7.0;
  let m = vec4f(0.999);
  let c = vec4f(1e-3);
  for (var i = 0u; i < ${FMA_ITER}u; i++) {
    a0 = fma(a0, m, c); a1 = fma(a1, m, c); a2 = fma(a2, m, c); a3 = fma(a3, m, c);
    a4 = fma(a4, m, c); a5 = fma(a5, m, c); a6 = fma(a6, m, c); a7 = fma(a7, m, c);
  }
  let s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7));
  out[g.x] = s.x + s.y + s.z + s.w;
}`;
}

const TINY = `
@group(0) @binding(0) var<storage, read_write> out: array<u32>;
@compute @workgroup_size(1)
fn main() { out[0] = out[0] + 1u; }`;

export async function measureCeilings(gpu: Gpu, opts: { quick?: boolean } = {}): Promise<Ceilings> {
  const dev = gpu.device;
  const bytes = 64 * 1024 * 1024; // twice a typical L3: a stream from memory, not from cache
  const timing: TimingOptions = opts.quick ? { warmup: 1, reps: 3 } : { warmup: 2, reps: 9 };
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const src = dev.createBuffer({ label: 'ceiling src', size: bytes, usage });
  const dst = dev.createBuffer({ label: 'ceiling dst', size: bytes, usage });
  const words = new Uint32Array(bytes / 4);
  for (let i = 0; i < words.length; i++) words[i] = Math.imul(i, 2654435761) >>> 0;
  dev.queue.writeBuffer(src, 0, words);
  const small = dev.createBuffer({ label: 'ceiling out', size: 4 * 1024 * 1024, usage });

  const copy = await timeWork(gpu, (rec) => rec.copy(src, 0, dst, 0, bytes), timing);

  const streamVariants: Record<string, number> = {};
  const vec4s = bytes / 16;
  const configs: [number, number, boolean][] = opts.quick
    ? [[64, 256, true], [256, 16, false]]
    : [[64, 64, true], [64, 256, true], [256, 256, true], [32, 1024, true], [64, 16, false], [256, 64, false]];
  for (const [wg, per, chunked] of configs) {
    const name = `${chunked ? 'chunk' : 'grid-stride'} wg${wg} x${per} vec4<u32>`;
    const pipe = await gpu.pipelines.compileSource(`stream ${name}`, buildModule('stream', streamKernel(wg, per, chunked), {}));
    const groups = vec4s / per / wg;
    const t = await timeWork(gpu, (rec) => rec.dispatch(pipe, [], [{ buffer: src }, { buffer: small }], foldWorkgroups(groups)), timing);
    streamVariants[name] = bytes / 1e6 / t.msMedian;
  }
  const [streamKernelName, streamGbps] = Object.entries(streamVariants).reduce((a, b) => (b[1] > a[1] ? b : a));
  const best = configs.find(([wg, per, chunked]) => `${chunked ? 'chunk' : 'grid-stride'} wg${wg} x${per} vec4<u32>` === streamKernelName)!;
  const bestPipe = await gpu.pipelines.compileSource(`stream ${streamKernelName}`, buildModule('stream', streamKernel(best[0], best[1], best[2]), {}));
  const streamSampler = await prepareSampler(gpu, (rec) => rec.dispatch(bestPipe, [], [{ buffer: src }, { buffer: small }], foldWorkgroups(vec4s / best[1] / best[0])), timing);

  const fmaWg = 64;
  const fmaGroups = opts.quick ? 64 : 256;
  const fmaPipe = await gpu.pipelines.compileSource('fma', buildModule('fma', fmaKernel(fmaWg), {}));
  const fma = await timeWork(gpu, (rec) => rec.dispatch(fmaPipe, [], [{ buffer: small }], [fmaGroups]), timing);
  const fmaFlops = fmaGroups * fmaWg * FMA_ITER * 8 * 4 * 2;
  const fmaGflops = fmaFlops / 1e6 / fma.msMedian;
  const fmaSampler = await prepareSampler(gpu, (rec) => rec.dispatch(fmaPipe, [], [{ buffer: small }], [fmaGroups]), timing);

  // Many tiny dispatches in one pass versus one: the slope is the per-dispatch cost.
  const tinyPipe = await gpu.pipelines.compileSource('tiny', buildModule('tiny', TINY, {}));
  const many = opts.quick ? 100 : 500;
  const one = await timeWork(gpu, (rec) => rec.dispatch(tinyPipe, [], [{ buffer: small }], [1]), { ...timing, maxPerSubmit: 1 });
  const lots = await timeWork(gpu, (rec) => {
    for (let i = 0; i < many; i++) rec.dispatch(tinyPipe, [], [{ buffer: small }], [1]);
  }, { ...timing, maxPerSubmit: 1 });
  const dispatchOverheadUs = Math.max(0, (lots.msMedian - one.msMedian) / (many - 1)) * 1000;

  dst.destroy();
  return {
    copyGbps: bytes / 1e6 / copy.msMedian,
    streamGbps,
    streamKernel: streamKernelName,
    streamVariants,
    fmaGflops,
    dispatchOverheadUs,
    bufferBytes: bytes,
    probe: async () => ({ streamGbps: bytes / 1e6 / (await streamSampler.sample()), fmaGflops: fmaFlops / 1e6 / (await fmaSampler.sample()) }),
    dispose: () => { streamSampler.dispose(); fmaSampler.dispose(); src.destroy(); small.destroy(); },
  };
}
