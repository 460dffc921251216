// The engine's handle on one WebGPU device: adapter facts, granted features and limits, the pipeline cache,
// the activation buffer pool, bind-group cache, uploads/readbacks and error surfacing. Platform-neutral: the
// caller passes the GPU object (navigator.gpu in browsers, Dawn's create() in Node: src/platform/node.ts).
import { decode, storageBytes, type DType } from './dtype.js';
import {
  DeviceLostError, GpuValidationError, MissingFeatureError, MissingLimitError, NoAdapterError, OutOfMemoryError, ShapeError,
} from './errors.js';
import { GpuProfiler } from './profiler.js';
import { BufferPool } from './buffer-pool.js';
import { BufferLedger } from './buffer-ledger.js';
import type { KernelName, KernelSpec } from './kernels.js';
import { PipelineCache, type Pipeline, type PipelineSpec } from './pipeline-cache.js';
import { Recorder, type RecorderHost } from './recorder.js';
import { Tensor, numel, rowsPerPart, type TensorOwner, type TensorPart } from './tensor.js';

export interface GpuFeatures {
  /** shader-f16: f16 arithmetic and storage in WGSL. */
  readonly f16: boolean;
  readonly subgroups: boolean;
  readonly timestamp: boolean;
}

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  subgroupMinSize?: number;
  subgroupMaxSize?: number;
}

export interface GpuOptions {
  /** navigator.gpu or Dawn's GPU object. Defaults to globalThis.navigator?.gpu. */
  gpu?: GPU;
  powerPreference?: GPUPowerPreference;
  /** Force optional features off (tests of the core path; adapters without them). */
  disable?: { f16?: boolean; subgroups?: boolean; timestamp?: boolean };
  /** Force a smaller per-binding limit than the device's (tests of tensor splitting). */
  maxBindingBytes?: number;
  /**
   * Kernel layouts: 'cpu' (software adapters such as lavapipe/SwiftShader: long per-invocation loops, no barriers)
   * or 'gpu' (wide workgroups, cooperative reductions). Default: chosen from the adapter. Tests force 'gpu' to cover
   * the GPU layouts on a software adapter.
   */
  kernelLayout?: 'cpu' | 'gpu';
  /**
   * Debug mode (TVM's flush-per-dispatch): submit every dispatch on its own inside a validation error scope, so
   * an error names the kernel and the op that recorded it (GpuValidationError at the next sync). Slow; Node
   * turns it on with VILAVT_DEBUG_DISPATCH=1.
   */
  debugDispatch?: boolean;
  /**
   * Profile mode: GPU time per kernel variant from timestamp queries (`gpu.profiler`, src/runtime/profiler.ts).
   * Needs 'timestamp-query' (ProfilingUnavailableError without it); Node turns it on with `--profile`.
   */
  profile?: boolean;
  label?: string;
}

/** Limits requested at the adapter's real values (the defaults are far below what a 7B model needs). */
const REQUESTED_LIMITS = [
  'maxBufferSize', 'maxStorageBufferBindingSize', 'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ', 'maxStorageBuffersPerShaderStage', 'maxComputeWorkgroupsPerDimension',
  'maxUniformBufferBindingSize', 'maxBindGroups',
] as const;

/** What every kernel in kernels/ assumes (all at or below WebGPU's defaults). */
const REQUIRED_LIMITS: Readonly<Record<string, number>> = {
  maxStorageBuffersPerShaderStage: 8,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupStorageSize: 16384,
  maxComputeWorkgroupsPerDimension: 65535,
};

export class Gpu implements RecorderHost, TensorOwner {
  readonly pipelines: PipelineCache;
  readonly pool: BufferPool;
  readonly maxBindingBytes: number;
  /** True when kernels should use their CPU-adapter layouts (see GpuOptions.kernelLayout). */
  readonly cpuLayout: boolean;
  readonly debugDispatch: boolean;
  /** Per-kernel GPU timing (GpuOptions.profile), else null. */
  readonly profiler: GpuProfiler | null;
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 1;
  private lostInfo: { reason: string; message: string } | null = null;
  private pendingErrors: Promise<GPUError | null>[] = [];
  private dispatchErrors: Promise<GpuValidationError | null>[] = [];
  private uncaptured: string[] = [];
  private readonly recorders: Recorder[] = [];
  private readonly freeRecorders: Recorder[] = [];
  private weightBytes = 0;
  private readonly ledger = new BufferLedger();

  private constructor(
    readonly device: GPUDevice,
    readonly adapter: AdapterDescription,
    readonly features: GpuFeatures,
    maxBindingBytes: number,
    kernelLayout?: 'cpu' | 'gpu',
    debugDispatch = false,
    profile = false,
  ) {
    this.debugDispatch = debugDispatch;
    this.profiler = profile ? new GpuProfiler(device, this) : null;
    this.cpuLayout = kernelLayout ? kernelLayout === 'cpu'
      : adapter.isFallbackAdapter || /llvmpipe|swiftshader|software/i.test(`${adapter.architecture} ${adapter.description}`);
    this.pipelines = new PipelineCache(device);
    this.pool = new BufferPool(this);
    this.maxBindingBytes = maxBindingBytes;
    device.lost.then((info) => { this.lostInfo = { reason: info.reason, message: info.message }; });
    device.addEventListener?.('uncapturederror', (ev: Event) => {
      const e = (ev as GPUUncapturedErrorEvent).error;
      this.uncaptured.push(e.message);
    });
  }

  static async create(opts: GpuOptions = {}): Promise<Gpu> {
    const gpu = opts.gpu ?? (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
    if (!gpu) throw new NoAdapterError('WebGPU is not available here (no navigator.gpu and no Dawn GPU object given)');
    const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
    if (!adapter) throw new NoAdapterError('WebGPU returned no adapter (no GPU and no software Vulkan driver such as lavapipe?)');

    const want = (name: GPUFeatureName, off?: boolean) => !off && adapter.features.has(name);
    const f16 = want('shader-f16', opts.disable?.f16);
    const subgroups = want('subgroups' as GPUFeatureName, opts.disable?.subgroups);
    const timestamp = want('timestamp-query', opts.disable?.timestamp);
    if (opts.profile && !timestamp) {
      throw new MissingFeatureError('timestamp-query', 'profiling (--profile) times kernels with timestamp queries');
    }
    const requiredFeatures: GPUFeatureName[] = [];
    if (f16) requiredFeatures.push('shader-f16');
    if (subgroups) requiredFeatures.push('subgroups' as GPUFeatureName);
    if (timestamp) requiredFeatures.push('timestamp-query');

    const limits = adapter.limits as unknown as Record<string, number>;
    for (const [name, need] of Object.entries(REQUIRED_LIMITS)) {
      const have = limits[name] ?? 0;
      if (have < need) throw new MissingLimitError(name, need, have);
    }
    const requiredLimits: Record<string, number> = {};
    for (const name of REQUESTED_LIMITS) if (typeof limits[name] === 'number') requiredLimits[name] = limits[name]!;

    const device = await adapter.requestDevice({ label: opts.label ?? 'vilavt', requiredFeatures, requiredLimits });
    const info = (adapter as GPUAdapter & { info?: GPUAdapterInfo }).info;
    const desc: AdapterDescription = {
      vendor: info?.vendor ?? '',
      architecture: info?.architecture ?? '',
      device: info?.device ?? '',
      description: info?.description ?? '',
      isFallbackAdapter: (info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter
        ?? (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false,
      subgroupMinSize: (info as { subgroupMinSize?: number } | undefined)?.subgroupMinSize,
      subgroupMaxSize: (info as { subgroupMaxSize?: number } | undefined)?.subgroupMaxSize,
    };
    const deviceBinding = device.limits.maxStorageBufferBindingSize;
    const binding = Math.min(deviceBinding, device.limits.maxBufferSize, opts.maxBindingBytes ?? Infinity);
    // Keep bindings 4-byte aligned (16-bit types are packed in words).
    return new Gpu(device, desc, { f16, subgroups, timestamp }, Math.floor(binding / 4) * 4, opts.kernelLayout, opts.debugDispatch,
      opts.profile ?? false);
  }

  get limits(): GPUSupportedLimits { return this.device.limits; }
  get isLost(): boolean { return this.lostInfo !== null; }

  /** One line describing the adapter and what was granted. */
  describe(): string {
    const a = this.adapter;
    const f = this.features;
    const name = [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' / ') || 'unknown adapter';
    return `${name}${a.isFallbackAdapter ? ' (fallback)' : ''}; features: shader-f16=${f.f16} subgroups=${f.subgroups} ` +
      `timestamp-query=${f.timestamp}; maxBufferSize=${this.limits.maxBufferSize} ` +
      `maxStorageBufferBindingSize=${this.limits.maxStorageBufferBindingSize} (engine binding limit ${this.maxBindingBytes}) ` +
      `workgroupStorage=${this.limits.maxComputeWorkgroupStorageSize} invocations=${this.limits.maxComputeInvocationsPerWorkgroup}`;
  }

  /** Throw MissingLimitError when a limit is below what a model needs. */
  requireLimit(name: keyof GPUSupportedLimits, need: number): void {
    const have = this.limits[name] as number;
    if (have < need) throw new MissingLimitError(String(name), need, have);
  }

  assertUsable(): void {
    if (this.lostInfo) throw new DeviceLostError(this.lostInfo.reason, this.lostInfo.message);
  }

  // ---- pipelines -------------------------------------------------------------------------------------------

  /** The pipeline of one variant of a kernel (kernels/<kernel>.wgsl), created once and cached. */
  pipeline<K extends KernelName>(kernel: K, spec?: KernelSpec<K>): Pipeline { return this.pipelines.get(kernel, spec as PipelineSpec); }

  bindGroup(pipeline: Pipeline, entries: readonly GPUBufferBinding[]): GPUBindGroup {
    let key = `${pipeline.id}`;
    for (const e of entries) key += `|${this.bufferId(e.buffer)}:${e.offset ?? 0}:${e.size ?? -1}`;
    let bg = this.bindGroups.get(key);
    if (!bg) {
      if (this.bindGroups.size > 8192) this.bindGroups.clear(); // bounded: pooled buffers churn over a session
      bg = this.device.createBindGroup({
        layout: pipeline.layout,
        entries: entries.map((resource, binding) => ({ binding, resource: { ...resource } })),
      });
      this.bindGroups.set(key, bg);
    }
    return bg;
  }

  private bufferId(b: GPUBuffer): number {
    let id = this.bufferIds.get(b);
    if (id === undefined) this.bufferIds.set(b, (id = this.nextBufferId++));
    return id;
  }

  /** A command recorder (pooled: call rec.release() when done; its uniform arena is reused). */
  recorder(): Recorder {
    const free = this.freeRecorders.pop();
    if (free) return free;
    const r = new Recorder(this);
    this.recorders.push(r);
    return r;
  }

  releaseRecorder(r: Recorder): void { if (!this.freeRecorders.includes(r)) this.freeRecorders.push(r); }

  closeDispatchScope(kernel: string, op: string): void {
    this.dispatchErrors.push(this.device.popErrorScope().then((e) => (e ? new GpuValidationError(`kernel '${kernel}' recorded by ${op}`, e.message) : null)));
  }

  // ---- buffers and tensors ---------------------------------------------------------------------------------

  createBuffer(size: number, usage: number, label: string): GPUBuffer {
    this.assertUsable();
    if (size > this.limits.maxBufferSize) {
      throw new OutOfMemoryError(label, size, `larger than the adapter's maxBufferSize ${this.limits.maxBufferSize}`);
    }
    this.device.pushErrorScope('out-of-memory');
    const buf = this.device.createBuffer({ label, size, usage });
    const scope = this.device.popErrorScope();
    this.pendingErrors.push(scope.then((e) => (e ? Object.assign(e, { __what: label, __bytes: size }) : null)));
    this.ledger.add(buf);
    return buf;
  }

  /** Destroy a buffer made by createBuffer (once; later calls for the same buffer do nothing). */
  destroyBuffer(buffer: GPUBuffer): void {
    if (this.ledger.remove(buffer)) buffer.destroy();
  }

  /** A pooled activation tensor (contents undefined). Release it with t.release(). */
  tensor(shape: readonly number[], dtype: DType, label = 'activation'): Tensor {
    const bytes = storageBytes(dtype, numel(shape));
    if (bytes > this.maxBindingBytes) {
      throw new ShapeError(`activation ${label} [${shape}] ${dtype} needs ${bytes} bytes, over the binding limit ${this.maxBindingBytes}; process it in chunks`);
    }
    const buffer = this.pool.acquire(bytes, label);
    return new Tensor(shape, dtype, [{ buffer, byteOffset: 0, byteLength: Math.max(bytes, 4), row0: 0, rows: shape[0] ?? 1 }], this, label);
  }

  releaseTensor(t: Tensor): void { for (const p of t.parts) this.pool.release(p.buffer); }

  /**
   * Upload raw little-endian bytes of `dtype` as a persistent tensor (weights, tables). Split by leading rows
   * across several buffers when larger than the binding limit. The returned tensor is destroyed with
   * `destroyTensor` (it does not go back to the pool).
   */
  upload(bytes: Uint8Array, shape: readonly number[], dtype: DType, label = 'weight'): Tensor {
    const n = numel(shape);
    const total = storageBytes(dtype, n);
    if (bytes.byteLength < (n * (dtype === 'f16' || dtype === 'bf16' ? 2 : 4))) {
      throw new ShapeError(`upload ${label}: ${bytes.byteLength} bytes given, [${shape}] ${dtype} needs ${n * (dtype === 'f16' || dtype === 'bf16' ? 2 : 4)}`);
    }
    const rows = shape.length ? shape[0]! : 1;
    const rowElems = rows ? n / rows : 0;
    const rowBytes = rowElems * (dtype === 'f16' || dtype === 'bf16' ? 2 : 4);
    const parts: TensorPart[] = [];
    const per = total <= this.maxBindingBytes || rows === 0 ? rows : rowsPerPart(rowBytes, this.maxBindingBytes);
    for (let r0 = 0; r0 < rows || (rows === 0 && parts.length === 0); r0 += Math.max(per, 1)) {
      const r = Math.min(per, rows - r0);
      const start = r0 * rowBytes;
      const len = r * rowBytes;
      const size = Math.max(4, Math.ceil(len / 4) * 4);
      const buffer = this.createBuffer(size, 0x80 | 0x04 | 0x08, `${label}${per < rows ? `#${parts.length}` : ''}`);
      writePadded(this.device.queue, buffer, bytes, start, len);
      parts.push({ buffer, byteOffset: 0, byteLength: size, row0: r0, rows: r });
      this.weightBytes += size;
      if (rows === 0) break;
    }
    return new Tensor(shape, dtype, parts, null, label);
  }

  destroyTensor(t: Tensor): void {
    for (const p of t.parts) {
      if (this.ledger.remove(p.buffer)) { this.weightBytes -= p.buffer.size; p.buffer.destroy(); }
    }
  }

  /** Overwrite a single-part tensor's contents with raw bytes. */
  write(t: Tensor, bytes: Uint8Array, byteOffset = 0): void {
    this.assertUsable();
    writePadded(this.device.queue, t.part.buffer, bytes, 0, bytes.byteLength, t.part.byteOffset + byteOffset);
  }

  /** Read a tensor back as raw bytes (all parts, in row order). */
  async readRaw(t: Tensor): Promise<Uint8Array> {
    this.assertUsable();
    const total = t.parts.reduce((s, p) => s + p.byteLength, 0);
    const staging = this.createBuffer(Math.max(4, total), 0x01 /* MAP_READ */ | 0x08 /* COPY_DST */, 'readback');
    const enc = this.device.createCommandEncoder();
    let at = 0;
    for (const p of t.parts) { enc.copyBufferToBuffer(p.buffer, p.byteOffset, staging, at, p.byteLength); at += p.byteLength; }
    this.device.queue.submit([enc.finish()]);
    try {
      await staging.mapAsync(0x0001 /* READ */);
      const out = new Uint8Array(staging.getMappedRange().slice(0));
      staging.unmap();
      await this.flushErrors();
      return out;
    } catch (e) {
      this.assertUsable();
      throw e;
    } finally {
      this.destroyBuffer(staging);
    }
  }

  /** Read a tensor back as f32 values (16-bit types widened exactly). */
  async read(t: Tensor): Promise<Float32Array> {
    const raw = await this.readRaw(t);
    // Parts of 16-bit tensors may carry 2 bytes of padding each; compact rows first.
    if (t.parts.length > 1 && (t.dtype === 'f16' || t.dtype === 'bf16')) {
      const rowBytes = t.rowSize * 2;
      const compact = new Uint8Array(t.numel * 2);
      let src = 0;
      for (const p of t.parts) {
        compact.set(raw.subarray(src, src + p.rows * rowBytes), p.row0 * rowBytes);
        src += p.byteLength;
      }
      return decode(compact, t.dtype, t.numel);
    }
    return decode(raw, t.dtype, t.numel);
  }

  async readU32(t: Tensor): Promise<Uint32Array> {
    const raw = await this.readRaw(t);
    return new Uint32Array(raw.buffer, raw.byteOffset, t.numel).slice();
  }

  /** Wait for all submitted work, then surface asynchronous errors (OOM, compile errors, device loss). */
  async sync(): Promise<void> {
    this.assertUsable();
    await this.device.queue.onSubmittedWorkDone();
    await this.flushErrors();
  }

  async flushErrors(): Promise<void> {
    const compile = await this.pipelines.takeErrors();
    if (compile) throw compile;
    const dispatch = (await Promise.all(this.dispatchErrors.splice(0))).find((e) => e);
    if (dispatch) throw dispatch;
    const errs = await Promise.all(this.pendingErrors.splice(0));
    const oom = errs.find((e) => e) as (GPUError & { __what?: string; __bytes?: number }) | undefined;
    if (oom) throw new OutOfMemoryError(oom.__what ?? 'buffer', oom.__bytes ?? 0, oom.message);
    if (this.uncaptured.length) {
      const msg = this.uncaptured.splice(0).join('\n');
      throw new GpuValidationError('a recorded command', msg);
    }
    this.assertUsable();
  }

  /**
   * The GPU memory the engine holds: `buffers` / `bufferBytes` count every live GPU buffer (created minus destroyed:
   * weights, pooled activations in use or cached, uniform arenas, readback buffers); `poolInUseBytes` and
   * `poolCachedBytes` split the activation pool; `weightBytes` is what `upload` placed.
   */
  memoryStats(): { buffers: number; bufferBytes: number; buffersCreated: number; poolInUseBytes: number; poolCachedBytes: number; weightBytes: number } {
    const l = this.ledger.stats();
    const p = this.pool.stats();
    return { buffers: l.buffers, bufferBytes: l.bytes, buffersCreated: l.created, poolInUseBytes: p.liveBytes, poolCachedBytes: p.pooledBytes, weightBytes: this.weightBytes };
  }

  stats(): { weightBytes: number; pool: { liveBytes: number; pooledBytes: number }; pipelines: number; bindGroups: number } {
    return { weightBytes: this.weightBytes, pool: this.pool.stats(), pipelines: this.pipelines.size, bindGroups: this.bindGroups.size };
  }

  destroy(): void {
    for (const r of this.recorders) r.destroy();
    this.profiler?.destroy();
    this.pool.trim();
    this.device.destroy();
  }
}

function writePadded(queue: GPUQueue, buffer: GPUBuffer, src: Uint8Array, start: number, len: number, dstOffset = 0): void {
  // writeBuffer needs 4-byte multiples: copy the tail into a padded word.
  const whole = len & ~3;
  if (whole > 0) queue.writeBuffer(buffer, dstOffset, src.buffer, src.byteOffset + start, whole);
  if (len > whole) {
    const tail = new Uint8Array(4);
    tail.set(src.subarray(start + whole, start + len));
    queue.writeBuffer(buffer, dstOffset + whole, tail);
  }
}
