// Headless benchmark runner: `npm run bench [-- --quick] [-- --profile] [-- --json FILE] [-- --filter TEXT]`.
// Measures this adapter's ceilings first, then every kernel case from bench/cases/, and reports each kernel's
// median time with its fraction of the measured streaming bandwidth and FMA rate.
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { createNodeGpu } from '../src/platform/node.js';
import { measureCeilings } from './ceilings.js';
import { FAMILIES } from './cases/index.js';
import { fractionOfRoofline } from './roofline.js';
import { profileDecode, type ProfileResult } from './profile.js';
import { benchDecode, type DecodeResult } from './decode.js';
import { median, prepareSampler, type BenchCase } from './timing.js';

interface Args { quick: boolean; profile: boolean; json: string | null; filter: string | null }

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { quick: false, profile: false, json: null, filter: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') args.quick = true;
    else if (a === '--profile') args.profile = true;
    else if (a === '--json' || a === '--filter') {
      const v = argv[++i];
      if (!v) throw new Error(`${a} needs a value`);
      if (a === '--json') args.json = v; else args.filter = v;
    } else if (a === '--help' || a === '-h') {
      console.log('usage: npm run bench -- [--quick] [--profile] [--json FILE] [--filter TEXT]');
      process.exit(0);
    } else throw new Error(`unknown argument ${a} (try --help)`);
  }
  return args;
}

export interface KernelResult {
  family: string;
  name: string;
  shape: string;
  ms_median: number;
  ms_min: number;
  gbps: number;
  gflops: number;
  /** Median over interleaved rounds of (this kernel's GB/s) / (the best streaming kernel's GB/s, same round). */
  fraction_of_stream_bw: number;
  /** Likewise against the register-FMA kernel. */
  fraction_of_fma_peak: number;
  /** Median over the rounds of attainable ÷ measured time (bench/roofline.ts), with that round's ceilings. */
  fraction_of_roofline: number;
  /** The ceilings as re-measured in this kernel's rounds (medians). */
  stream_gbps_paired: number;
  fma_gflops_paired: number;
  note?: string;
}

const fmt = (v: number, d = 2) => v.toFixed(d).padStart(8);

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const gpu = await createNodeGpu();
  console.log(`adapter: ${gpu.describe()}`);
  console.log(`host: ${cpus().length} CPU(s), load average ${loadavg().map((v) => v.toFixed(2)).join(' ')}` +
    `${args.quick ? ' — quick run (short subset, fewer repetitions)' : ''}`);

  const c = await measureCeilings(gpu, { quick: args.quick });
  console.log(`\nceilings (${c.bufferBytes / 2 ** 20} MiB buffers, median of repetitions, wall clock submit→done):`);
  console.log(`  copyBufferToBuffer      ${fmt(c.copyGbps)} GB/s`);
  for (const [name, gbps] of Object.entries(c.streamVariants)) console.log(`  stream ${name.padEnd(30)} ${fmt(gbps)} GB/s`);
  console.log(`  streaming read (best)   ${fmt(c.streamGbps)} GB/s  (${c.streamKernel})`);
  for (const [name, gflops] of Object.entries(c.fmaVariants)) console.log(`  FMA ${name.padEnd(33)} ${fmt(gflops)} GFLOP/s`);
  console.log(`  register FMA (best)     ${fmt(c.fmaGflops)} GFLOP/s  (${c.fmaKernel})`);
  console.log(`  per-dispatch overhead   ${fmt(c.dispatchOverheadUs, 1)} µs`);

  const results: KernelResult[] = [];
  console.log(`\n${'kernel'.padEnd(64)} ${'ms'.padStart(8)} ${'GB/s'.padStart(8)} ${'GFLOP/s'.padStart(8)}  ${'of bw'.padStart(6)} ${'of fma'.padStart(6)} ${'roof'.padStart(5)}  shape`);
  for (const family of FAMILIES) {
    const cases: BenchCase[] = family.benchCases(gpu).filter((k) => (!args.quick || k.quick) &&
      (!args.filter || `${family.name} ${k.name} ${k.shape}`.includes(args.filter)));
    for (const k of cases) {
      await k.setup(gpu);
      try {
        // Interleave the kernel's repetitions with the ceilings' so each ratio compares timings moments apart.
        const sampler = await prepareSampler(gpu, (rec) => k.record(rec, gpu), args.quick ? { warmup: 1 } : { warmup: 2 });
        const rounds = args.quick ? 3 : 7;
        const ms: number[] = [];
        const bwRatio: number[] = [];
        const fmaRatio: number[] = [];
        const rooflineRatio: number[] = [];
        const streams: number[] = [];
        const fmas: number[] = [];
        for (let i = 0; i < rounds; i++) {
          const t = await sampler.sample();
          const ceil = await c.probe();
          ms.push(t);
          streams.push(ceil.streamGbps);
          fmas.push(ceil.fmaGflops);
          bwRatio.push(k.bytes / 1e6 / t / ceil.streamGbps);
          fmaRatio.push(k.flops / 1e6 / t / ceil.fmaGflops);
          rooflineRatio.push(fractionOfRoofline(t, k.bytes, k.flops, ceil.streamGbps, ceil.fmaGflops));
        }
        await gpu.flushErrors();
        sampler.dispose();
        const sorted = (v: number[]) => [...v].sort((a, b) => a - b);
        const msMedian = median(sorted(ms));
        const gbps = k.bytes / 1e6 / msMedian;
        const gflops = k.flops / 1e6 / msMedian;
        const r: KernelResult = {
          family: family.name, name: k.name, shape: k.shape, ms_median: msMedian, ms_min: sorted(ms)[0]!, gbps, gflops,
          fraction_of_stream_bw: median(sorted(bwRatio)), fraction_of_fma_peak: median(sorted(fmaRatio)),
          fraction_of_roofline: median(sorted(rooflineRatio)),
          stream_gbps_paired: median(sorted(streams)), fma_gflops_paired: median(sorted(fmas)), note: k.note,
        };
        results.push(r);
        console.log(`${k.name.slice(0, 64).padEnd(64)} ${fmt(r.ms_median)} ${fmt(gbps)} ${fmt(gflops)}  ${r.fraction_of_stream_bw.toFixed(2).padStart(6)} ${r.fraction_of_fma_peak.toFixed(2).padStart(6)} ${r.fraction_of_roofline.toFixed(2).padStart(5)}  ${k.shape}${k.note ? ` (${k.note})` : ''}`);
      } finally {
        k.dispose(gpu);
      }
    }
  }

  // The whole decode step of a 7B-shaped 4-bit model (bench/decode.ts); part of --quick too (fewer steps).
  let decode: DecodeResult[] = [];
  if (!args.filter || 'decode'.includes(args.filter) || args.filter.includes('decode')) {
    console.log(`\ndecode step, 7B-shaped model with random 4-bit weights (${args.quick ? 2 : 5} steps per context):`);
    decode = await benchDecode(gpu, c, { contexts: [1024, 4096], steps: args.quick ? 2 : 5, act: 'f32', onLine: (s) => console.log(s) });
  }

  // Per-kernel GPU time of one decode step (its own profiling device; needs timestamp-query).
  const profile: ProfileResult[] = [];
  if (args.profile) {
    if (!gpu.features.timestamp) console.log('\n--profile: this adapter does not offer timestamp-query; no kernel times');
    else for (const ctx of [1024, 4096]) profile.push(await profileDecode(ctx));
  }

  if (args.json) {
    const report = {
      device: {
        adapter: gpu.describe(),
        vendor: gpu.adapter.vendor,
        architecture: gpu.adapter.architecture,
        description: gpu.adapter.description,
        is_fallback_adapter: gpu.adapter.isFallbackAdapter,
        features: gpu.features,
        max_binding_bytes: gpu.maxBindingBytes,
        copy_gbps: c.copyGbps,
        stream_gbps: c.streamGbps,
        stream_kernel: c.streamKernel,
        stream_variants_gbps: c.streamVariants,
        fma_gflops: c.fmaGflops,
        fma_kernel: c.fmaKernel,
        fma_variants_gflops: c.fmaVariants,
        dispatch_overhead_us: c.dispatchOverheadUs,
        timing: 'wall clock from submit to onSubmittedWorkDone, median after warm-up; short work repeated within one submit',
        fractions: 'per kernel, the median over interleaved rounds of kernel rate / ceiling rate re-measured in the same round (stream_gbps_paired, fma_gflops_paired); stream_gbps and fma_gflops here are the start-of-run ceilings',
        host_cpus: cpus().length,
        host_load_average: loadavg(),
        quick: args.quick,
      },
      kernels: results,
      decode,
      ...(args.profile ? { profile } : {}),
    };
    writeFileSync(args.json, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`\nwrote ${args.json}`);
  }
  c.dispose();
  gpu.device.destroy();
}

main().catch((e) => {
  console.error(e instanceof Error ? e.stack ?? e.message : e);
  process.exit(1);
});
