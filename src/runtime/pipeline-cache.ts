// Compute pipelines are created once per (kernel, defines, override constants) and cached. The feature set is
// part of the key through the defines (ACT_F16, SUBGROUPS, ...), and the cache belongs to one device.
import { ShaderCompileError } from './errors.js';
import { checkSpec, KERNEL_TABLE, signatureOf, type KernelSignature, type KernelTable } from './kernels.js';
import { expandModule, locate, type Defines, type SourceLine } from './wgsl.js';
import { WGSL_SOURCES } from './wgsl.generated.js';

export interface PipelineSpec {
  defines?: Defines;
  constants?: Readonly<Record<string, number>>;
  entryPoint?: string;
}

export class Pipeline {
  private static nextId = 1;
  readonly id = Pipeline.nextId++;
  readonly layout: GPUBindGroupLayout;
  /**
   * @param signature the uniform fields and storage bindings of this variant, checked by Recorder.dispatch
   *   (null for WGSL compiled from a string, which has no registry entry).
   */
  constructor(readonly kernel: string, readonly key: string, readonly gpuPipeline: GPUComputePipeline,
    readonly signature: KernelSignature | null = null) {
    this.layout = gpuPipeline.getBindGroupLayout(0);
  }

  /** The kernel and the defines it was compiled with, e.g. `matmul_vec_q4[NORM_IN,SILU_PAIRS]` (profiles). */
  get variant(): string {
    const defines = this.key.split('|')[1];
    return defines ? `${this.kernel}[${defines}]` : this.kernel;
  }
}

function stableKey(kernel: string, spec: PipelineSpec): string {
  const d = Object.entries(spec.defines ?? {}).filter(([, v]) => v).map(([k]) => k).sort().join(',');
  const c = Object.entries(spec.constants ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}=${v}`).join(',');
  return `${kernel}|${d}|${c}|${spec.entryPoint ?? 'main'}`;
}

export class PipelineCache {
  private readonly cache = new Map<string, Pipeline>();
  /** Compile problems found asynchronously; surfaced by `takeErrors()` (Gpu.sync / Gpu.read). */
  private readonly pending: Promise<ShaderCompileError | null>[] = [];

  constructor(private readonly device: GPUDevice, private readonly sources: Readonly<Record<string, string>> = WGSL_SOURCES,
    private readonly kernels: KernelTable = KERNEL_TABLE) {}

  get size(): number { return this.cache.size; }

  source(kernel: string): string {
    const src = this.sources[kernel];
    if (src === undefined) throw new ShaderCompileError(kernel, `no kernel named '${kernel}' (kernels/${kernel}.wgsl)`);
    return src;
  }

  /** Synchronous creation for the hot path; compile errors are collected and thrown at the next sync point. */
  get(kernel: string, spec: PipelineSpec = {}): Pipeline {
    const key = stableKey(kernel, spec);
    const hit = this.cache.get(key);
    if (hit) return hit;
    const { code, origin, signature } = this.build(kernel, spec);
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ label: kernel, code });
    const gpuPipeline = this.device.createComputePipeline({
      label: key,
      layout: 'auto',
      compute: { module, entryPoint: spec.entryPoint ?? 'main', constants: spec.constants as Record<string, number> | undefined },
    });
    const scope = this.device.popErrorScope();
    this.pending.push(
      Promise.all([module.getCompilationInfo(), scope]).then(([info, err]) => {
        const msgs = info.messages.filter((m) => m.type === 'error');
        if (msgs.length) return new ShaderCompileError(kernel, formatMessages(msgs, origin));
        if (err) return new ShaderCompileError(kernel, err.message);
        return null;
      }),
    );
    const p = new Pipeline(kernel, key, gpuPipeline, signature);
    this.cache.set(key, p);
    return p;
  }

  /** Awaitable creation that throws ShaderCompileError directly (warm-up, self-test, tests). */
  async getAsync(kernel: string, spec: PipelineSpec = {}): Promise<Pipeline> {
    const key = stableKey(kernel, spec);
    const hit = this.cache.get(key);
    if (hit) return hit;
    const { code, origin, signature } = this.build(kernel, spec);
    const p = await this.compile(kernel, code, spec, key, origin, signature);
    this.cache.set(key, p);
    return p;
  }

  /** Compile arbitrary WGSL (benchmarks, tests); not cached. */
  async compileSource(name: string, code: string, spec: PipelineSpec = {}): Promise<Pipeline> {
    return this.compile(name, code, spec, `${name}|source`, null);
  }

  /** The module of one variant and its signature; a define or constant the kernel lacks is an error here. */
  private build(kernel: string, spec: PipelineSpec) {
    const source = this.source(kernel);
    const meta = this.kernels[kernel];
    if (meta) checkSpec(kernel, meta, spec);
    const module = expandModule(kernel, source, spec.defines ?? {}, this.sources);
    return { ...module, signature: meta ? signatureOf(meta, module) : null };
  }

  /** `origin`: each code line's (file, line) for messages; null for arbitrary source (plain line numbers). */
  private async compile(kernel: string, code: string, spec: PipelineSpec, key: string, origin: readonly SourceLine[] | null,
    signature: KernelSignature | null = null): Promise<Pipeline> {
    const module = this.device.createShaderModule({ label: kernel, code });
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length) throw new ShaderCompileError(kernel, formatMessages(errors, origin));
    try {
      const gpuPipeline = await this.device.createComputePipelineAsync({
        label: key,
        layout: 'auto',
        compute: { module, entryPoint: spec.entryPoint ?? 'main', constants: spec.constants as Record<string, number> | undefined },
      });
      return new Pipeline(kernel, key, gpuPipeline, signature);
    } catch (e) {
      throw new ShaderCompileError(kernel, e instanceof Error ? e.message : String(e));
    }
  }

  async takeErrors(): Promise<ShaderCompileError | null> {
    const all = await Promise.all(this.pending.splice(0));
    return all.find((e) => e !== null) ?? null;
  }
}

function formatMessages(msgs: readonly GPUCompilationMessage[], origin: readonly SourceLine[] | null): string {
  // Kernel sources: `matmul.wgsl:LINE:POS` or `_snippet.wgsl:LINE:POS` (the line as written in that file).
  return msgs.map((m) => `  ${locate(origin, m.lineNum)}:${m.linePos}: ${m.message}`).join('\n');
}
