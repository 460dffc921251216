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
  /** f32 FMA rate of the best register-only kernel (2 flops per FMA), and which one it was. */
  fmaGflops: number;
  fmaKernel: string;
  /** Every FMA kernel tried: name -> GFLOP/s. */
  fmaVariants: Record<string, number>;
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

// Register-only FMA kernels: `chains` independent accumulators per invocation (vec4 or scalar), each advanced
// `unroll` times per loop iteration, `iter` iterations, no memory traffic but one store. The bench takes the best
// of them as the FMA ceiling, as it takes the best streaming kernel. Why several (bench/NOTES.md, "The FMA
// ceiling"): lavapipe lowers `fma` to a multiply and an add, and writes every variable that a loop carries through
// a per-lane blend (its execution mask) once per iteration; 8 vec4 chains, one step per iteration, also need more
// than the 32 vector registers and spill. That kernel ran at ~0.3 of the rate of 12 scalar chains unrolled 8 times
// (multiply + add + 1/8 blend per FMA, no spills), which is what a kernel on this adapter can reach. GPUs may prefer
// either shape; the maximum is the ceiling.
interface FmaShape { chains: number; vec4: boolean; unroll: number; iter: number }
const FMA_SHAPES: FmaShape[] = [
  { chains: 8, vec4: true, unroll: 1, iter: 512 },
  { chains: 12, vec4: false, unroll: 8, iter: 160 },
  { chains: 8, vec4: false, unroll: 16, iter: 128 },
];
const fmaName = (f: FmaShape) => `${f.chains} ${f.vec4 ? 'vec4' : 'scalar'} chains x${f.unroll} unrolled`;
const fmaPerInvocation = (f: FmaShape) => f.chains * (f.vec4 ? 4 : 1) * f.unroll * f.iter;
function fmaKernel(wg: number, f: FmaShape): string {
  const t = f.vec4 ? 'vec4f' : 'f32';
  const chains = Array.from({ length: f.chains }, (_, i) => `a${i}`);
  const step = chains.map((a) => `${a} = fma(${a}, m, c);`).join(' ');
  const sum = chains.join(' + ');
  return `
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(${wg})
fn main(@builtin(global_invocation_id) g: vec3u) {
  let seed = f32(g.x & 7u) * 1e-3;
  ${chains.map((a, i) => `var ${a} = ${t}(seed + ${i}.0);`).join(' ')}
  let m = ${t}(0.999);
  let c = ${t}(1e-3);
  for (var i = 0u; i < ${f.iter}u; i++) {
    ${Array.from({ length: f.unroll }, () => step).join('\n    ')}
  }
  let s = ${f.vec4 ? `vec4f(${sum})` : `vec4f(${sum}, 0.0, 0.0, 0.0)`};
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
  const fmaVariants: Record<string, number> = {};
  const fmaPipes: { flops: number; pipe: Awaited<ReturnType<typeof gpu.pipelines.compileSource>> }[] = [];
  for (const f of opts.quick ? FMA_SHAPES.slice(0, 2) : FMA_SHAPES) {
    const pipe = await gpu.pipelines.compileSource(`fma ${fmaName(f)}`, buildModule('fma', fmaKernel(fmaWg, f), {}));
    const flops = fmaGroups * fmaWg * fmaPerInvocation(f) * 2;
    const t = await timeWork(gpu, (rec) => rec.dispatch(pipe, [], [{ buffer: small }], [fmaGroups]), timing);
    fmaVariants[fmaName(f)] = flops / 1e6 / t.msMedian;
    fmaPipes.push({ flops, pipe });
  }
  const names = Object.keys(fmaVariants);
  const bestFma = names.reduce((a, b) => (fmaVariants[b]! > fmaVariants[a]! ? b : a));
  const fmaGflops = fmaVariants[bestFma]!;
  const { flops: fmaFlops, pipe: fmaPipe } = fmaPipes[names.indexOf(bestFma)]!;
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
    fmaKernel: bestFma,
    fmaVariants,
    dispatchOverheadUs,
    bufferBytes: bytes,
    probe: async () => ({ streamGbps: bytes / 1e6 / (await streamSampler.sample()), fmaGflops: fmaFlops / 1e6 / (await fmaSampler.sample()) }),
    dispose: () => { streamSampler.dispose(); fmaSampler.dispose(); src.destroy(); small.destroy(); },
  };
}
