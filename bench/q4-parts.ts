// Where the time of the lavapipe q4 matrix-vector kernel goes: `npx tsx bench/q4-parts.ts [--rounds N]`.
// Times the real kernel (CPU layout, gate/up shape 18944x3584, group 128) next to variants of its own source with
// parts removed — no code-word loads, no x loads, neither — and a kernel that only loads the code words (u32 or
// vec4<u32>), interleaved with the paired ceilings (bench/ceilings.ts). Reports per variant the process CPU time
// relative to the full kernel in the same round (lavapipe's threads run in this process: less sensitive to a
// shared host than wall clock) and the fraction of the roofline. The variants compute garbage by design; only the
// full kernel's output is meaningful (tested in test/kernels/matmul-q4.test.ts). bench/NOTES.md has the findings.
import { createNodeGpu } from '../src/platform/node.js';
import { buildModule } from '../src/runtime/wgsl.js';
import { WGSL_SOURCES } from '../src/runtime/wgsl.generated.js';
import { f32, foldWorkgroups, u32 } from '../src/runtime/recorder.js';
import { q4RowBytes } from '../src/ops/matmul-q4.js';
import { measureCeilings } from './ceilings.js';
import { packedRandom } from './cases/matmul-q4.js';
import { attainableMs } from './roofline.js';
import { fillUniform, median, prepareSampler, type Sampler } from './timing.js';

const N = 18944, K = 3584, GROUP = 128, WG = 64, ROWS = 4;
const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1] || 11);

/** The kernel source with `from` replaced by `to` (every occurrence; a missing marker is an error, not a no-op). */
function edit(src: string, ...pairs: [string, string][]): string {
  for (const [from, to] of pairs) {
    if (!src.includes(from)) throw new Error(`bench/q4-parts: marker not in kernels/matmul_vec_q4.wgsl: ${from}`);
    src = src.split(from).join(to);
  }
  return src;
}

const full = WGSL_SOURCES.matmul_vec_q4!;
const X_LOADS: [string, string][] = [
  ['let groups = p.k / p.group;', 'let groups = p.k / p.group; let x0 = vec4f(x[0]);'],
  ['var xa = vec4f(x[2u * j]);', 'var xa = vec4f(f32(j)) + x0;'],
  ['var xb = vec4f(x[2u * j + 1u]);', 'var xb = vec4f(f32(j) + 0.5);'],
];
const CODE_LOADS: [string, string][] = [
  ['var sums: array<f32, R + 1u>;', 'var sums: array<f32, R + 1u>; let w0 = w[0];'],
  ['let q = codeWord(rows[r], j, second[r]);', 'let q = (j * 0x9E3779B9u + rows[r]) ^ w0;'],
];
// Only the code words of R rows per invocation, `per` words per load.
const codeLoads = (per: 1 | 4) => `
override WG: u32 = 64u;
struct Params { n: u32, k: u32, col0: u32, acc: u32, group: u32, row_a: u32, row_b: u32, eps: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4f>;
@group(0) @binding(2) var<storage, read> w: array<${per === 1 ? 'u32' : 'vec4<u32>'}>;
@group(0) @binding(3) var<storage, read> sz: array<u32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let out0 = ((wid.x + wid.y * nwg.x) * WG + lid) * ${ROWS}u;
  let loads = p.k / ${8 * per}u;
  var acc = vec4u(0u);
  for (var j = 0u; j < loads; j++) {
    for (var r = 0u; r < ${ROWS}u; r++) { acc ^= vec4u(w[min(out0 + r, p.n - 1u) * loads + j]); }
  }
  y[out0] = f32(dot(acc, vec4u(1u))) + x[0].x + f32(sz[0]);
}`;
const VARIANTS: [string, string][] = [
  ['full kernel', full],
  ['code-word loads only, u32', codeLoads(1)],
  ['code-word loads only, vec4<u32>', codeLoads(4)],
  ['no code-word loads', edit(full, ...CODE_LOADS)],
  ['no x loads', edit(full, ...X_LOADS)],
  ['arithmetic only (no x, no code words)', edit(full, ...X_LOADS, ...CODE_LOADS)],
];

const gpu = await createNodeGpu({ kernelLayout: 'cpu' });
console.log(`adapter: ${gpu.describe()}`);
const ceilings = await measureCeilings(gpu, { quick: true });
const x = gpu.upload(new Uint8Array(fillUniform(new Float32Array(K), 7).buffer), [1, K], 'f32', 'q4-parts x');
const packed = packedRandom(N, K, GROUP, 9);
const codes = gpu.upload(new Uint8Array(packed.codes.buffer), [N, K / 8], 'u32', 'q4-parts codes');
const groups = gpu.upload(new Uint8Array(packed.groups.buffer), [N, K / GROUP], 'u32', 'q4-parts groups');
const y = gpu.tensor([1, N], 'f32', 'q4-parts y');
const bytes = N * q4RowBytes(K, GROUP) + (K + N) * 4;
const flops = 2 * N * K;
const params = [u32(N), u32(K), u32(0), u32(0), u32(GROUP), u32(0), u32(0), f32(0)];
const runs: { name: string; sampler: Sampler; cpu: number[]; roof: number[] }[] = [];
for (const [name, src] of VARIANTS) {
  const pipe = await gpu.pipelines.compileSource(`q4-parts ${name}`, buildModule('matmul_vec_q4', src, {}, WGSL_SOURCES),
    { constants: { WG, ...(src.includes('override T') ? { T: 1 } : {}) } });
  const sampler = await prepareSampler(gpu, (rec) => rec.dispatch(pipe, params, [x, codes, groups, y], foldWorkgroups(Math.ceil(N / (WG * ROWS)))));
  runs.push({ name, sampler, cpu: [] as number[], roof: [] as number[] });
}
for (let r = 0; r < rounds; r++) {
  for (const v of runs) {
    const c = await ceilings.probe();
    const cpu0 = process.cpuUsage();
    const ms = await v.sampler.sample();
    const cpu = process.cpuUsage(cpu0);
    v.cpu.push((cpu.user + cpu.system) / 1000 / v.sampler.perSubmit);
    v.roof.push(attainableMs(bytes, flops, c.streamGbps, c.fmaGflops) / ms);
  }
}
const med = (a: number[]) => median([...a].sort((p, q) => p - q));
console.log(`\n[1x${K}]·[${N}x${K}]ᵀ q4 g${GROUP}, ${rounds} interleaved rounds, medians:`);
console.log(`${'variant'.padEnd(40)} ${'CPU time vs full'.padStart(16)} ${'fraction of roofline'.padStart(21)}`);
for (const v of runs) {
  const rel = med(v.cpu.map((c, i) => c / runs[0]!.cpu[i]!));
  console.log(`${v.name.padEnd(40)} ${rel.toFixed(2).padStart(16)} ${med(v.roof).toFixed(2).padStart(21)}`);
}
for (const v of runs) v.sampler.dispose();
ceilings.dispose();
process.exit(0);
