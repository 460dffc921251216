// Command recording: a sequence of dispatches goes into one command encoder and one compute pass, with each
// dispatch's small parameter struct placed in a per-recorder uniform arena written once at submit. Bind groups
// are cached by (pipeline, uniform slot, buffers), so replaying the same op sequence (a decode step) creates
// no GPU objects at all.
import type { Pipeline } from './pipeline-cache.js';
import type { Tensor, TensorPart } from './tensor.js';
import { ShapeError } from './errors.js';
import type { GpuProfiler } from './profiler.js';
import type { BufferFactory } from './buffer-ledger.js';

export type Param = { readonly t: 'u32' | 'i32' | 'f32'; readonly v: number };
export const u32 = (v: number): Param => {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new ShapeError(`u32 parameter out of range: ${v}`);
  return { t: 'u32', v };
};
export const i32 = (v: number): Param => {
  if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new ShapeError(`i32 parameter out of range: ${v}`);
  return { t: 'i32', v };
};
export const f32 = (v: number): Param => ({ t: 'f32', v });

export type Binding = Tensor | TensorPart | { buffer: GPUBuffer; offset?: number; size?: number };

export interface RecorderHost extends BufferFactory {
  readonly device: GPUDevice;
  /** Debug mode (GpuOptions.debugDispatch): every dispatch is submitted alone inside its own error scope. */
  readonly debugDispatch: boolean;
  /** Profile mode (GpuOptions.profile): each dispatch in its own timed pass (src/runtime/profiler.ts). */
  readonly profiler: GpuProfiler | null;
  bindGroup(pipeline: Pipeline, entries: readonly GPUBufferBinding[]): GPUBindGroup;
  assertUsable(): void;
  /** Debug mode: the error scope opened before a dispatch closes after its submit; errors name `kernel` and `op`. */
  closeDispatchScope(kernel: string, op: string): void;
  releaseRecorder(r: Recorder): void;
}

const CHUNK_BYTES = 64 * 1024;
const MAX_WORKGROUPS_PER_DIM = 65535;

/** Fold a 1-D workgroup count into x*y so neither exceeds the per-dimension limit. */
export function foldWorkgroups(n: number): [number, number, number] {
  if (n <= MAX_WORKGROUPS_PER_DIM) return [Math.max(n, 1), 1, 1];
  const y = Math.ceil(n / MAX_WORKGROUPS_PER_DIM);
  return [Math.ceil(n / y), y, 1];
}

class UniformArena {
  readonly chunks: { buffer: GPUBuffer; mirror: ArrayBuffer; view: DataView }[] = [];
  chunk = 0;
  cursor = 0;
  constructor(private readonly buffers: BufferFactory, private readonly align: number) {}

  reset(): void { this.chunk = 0; this.cursor = 0; }

  reserve(bytes: number): { buffer: GPUBuffer; offset: number; view: DataView } {
    if (bytes > CHUNK_BYTES) throw new ShapeError(`parameter block of ${bytes} bytes is too large`);
    if (this.cursor + bytes > CHUNK_BYTES) { this.chunk++; this.cursor = 0; }
    if (this.chunk === this.chunks.length) {
      const buffer = this.buffers.createBuffer(CHUNK_BYTES, 0x40 /* UNIFORM */ | 0x08 /* COPY_DST */, 'uniform-arena');
      const mirror = new ArrayBuffer(CHUNK_BYTES);
      this.chunks.push({ buffer, mirror, view: new DataView(mirror) });
    }
    const c = this.chunks[this.chunk]!;
    const offset = this.cursor;
    this.cursor = Math.ceil((offset + bytes) / this.align) * this.align;
    return { buffer: c.buffer, offset, view: c.view };
  }

  flush(queue: GPUQueue): void {
    for (let i = 0; i <= this.chunk && i < this.chunks.length; i++) {
      const used = i < this.chunk ? CHUNK_BYTES : this.cursor;
      if (used > 0) queue.writeBuffer(this.chunks[i]!.buffer, 0, this.chunks[i]!.mirror, 0, used);
    }
  }

  destroy(): void {
    for (const c of this.chunks) this.buffers.destroyBuffer(c.buffer);
    this.chunks.length = 0;
  }
}

export class Recorder {
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private readonly arena: UniformArena;
  private readonly entries: GPUBufferBinding[] = [];
  dispatches = 0;

  constructor(private readonly host: RecorderHost) {
    this.arena = new UniformArena(host, host.device.limits.minUniformBufferOffsetAlignment);
  }

  private ensurePass(): GPUComputePassEncoder {
    if (!this.encoder) this.encoder = this.host.device.createCommandEncoder();
    if (!this.pass) this.pass = this.encoder.beginComputePass();
    return this.pass;
  }

  /**
   * Record one dispatch. `params` become the uniform struct at binding 0 (4 bytes each, in order); `bindings`
   * are the storage buffers at bindings 1..n. Both are checked against what the kernel variant declares.
   */
  dispatch(pipeline: Pipeline, params: readonly Param[], bindings: readonly Binding[], workgroups: readonly number[]): void {
    this.host.assertUsable();
    if (pipeline.signature) checkCall(pipeline, params, bindings);
    const [x = 1, y = 1, z = 1] = workgroups;
    if (x < 1 || y < 1 || z < 1) return; // nothing to do (empty tensor)
    if (x > MAX_WORKGROUPS_PER_DIM || y > MAX_WORKGROUPS_PER_DIM || z > MAX_WORKGROUPS_PER_DIM) {
      throw new ShapeError(`${pipeline.kernel}: workgroup grid [${x},${y},${z}] exceeds ${MAX_WORKGROUPS_PER_DIM} per dimension; fold it`);
    }
    const entries = this.entries;
    entries.length = 0;
    if (params.length > 0) {
      const bytes = Math.max(16, Math.ceil((params.length * 4) / 16) * 16);
      const slot = this.arena.reserve(bytes);
      for (let i = 0; i < params.length; i++) {
        const p = params[i]!;
        const at = slot.offset + i * 4;
        if (p.t === 'f32') slot.view.setFloat32(at, p.v, true);
        else if (p.t === 'i32') slot.view.setInt32(at, p.v, true);
        else slot.view.setUint32(at, p.v, true);
      }
      entries.push({ buffer: slot.buffer, offset: slot.offset, size: bytes });
    }
    for (const b of bindings) entries.push(toBufferBinding(b));
    const debug = this.host.debugDispatch;
    if (debug) this.host.device.pushErrorScope('validation');
    const profiler = this.host.profiler;
    if (profiler) {
      if (profiler.full) this.submit();
      if (this.pass) { this.pass.end(); this.pass = null; }
      if (!this.encoder) this.encoder = this.host.device.createCommandEncoder();
      this.pass = this.encoder.beginComputePass(profiler.timedPass(pipeline.variant));
    }
    const pass = this.ensurePass();
    pass.setPipeline(pipeline.gpuPipeline);
    pass.setBindGroup(0, this.host.bindGroup(pipeline, entries));
    pass.dispatchWorkgroups(x, y, z);
    if (profiler) { pass.end(); this.pass = null; }
    this.dispatches++;
    if (debug) {
      this.submit();
      this.host.closeDispatchScope(pipeline.kernel, recordingOp());
    }
  }

  /** Buffer-to-buffer copy (ends the current compute pass). */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.host.assertUsable();
    if (this.pass) { this.pass.end(); this.pass = null; }
    if (!this.encoder) this.encoder = this.host.device.createCommandEncoder();
    this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** Write the uniform arena and submit everything recorded as one command buffer. */
  submit(): void {
    this.host.assertUsable();
    if (this.pass) { this.pass.end(); this.pass = null; }
    if (this.encoder) {
      this.arena.flush(this.host.device.queue);
      const readTimes = this.host.profiler?.resolve(this.encoder);
      this.host.device.queue.submit([this.encoder.finish()]);
      readTimes?.();
      this.encoder = null;
    }
    this.arena.reset();
    this.dispatches = 0;
  }

  /** Submit anything pending and hand the recorder (and its uniform arena) back for reuse. */
  release(): void {
    if (this.encoder || this.pass) this.submit();
    this.host.releaseRecorder(this);
  }

  destroy(): void { this.arena.destroy(); }
}

/** Throws ShapeError unless the call matches the variant's uniform fields (count, types) and storage bindings. */
function checkCall(pipeline: Pipeline, params: readonly Param[], bindings: readonly Binding[]): void {
  const sig = pipeline.signature!;
  let ok = params.length === sig.params.length && bindings.length === sig.storageBindings;
  for (let i = 0; ok && i < params.length; i++) ok = params[i]!.t === sig.params[i];
  if (ok) return;
  const given = params.map((p) => p.t).join(', ');
  const want = sig.fields.map((f, i) => `${f}: ${sig.params[i]}`).join(', ');
  throw new ShapeError(`${pipeline.kernel}: dispatched with parameters (${given}) and ${bindings.length} storage bindings; ` +
    `kernels/${pipeline.kernel}.wgsl (this variant) takes (${want}) and ${sig.storageBindings}`);
}

/** The code that recorded a dispatch: the first three stack frames outside src/runtime (debug mode only). */
function recordingOp(): string {
  const frames = (new Error().stack ?? '').split('\n').slice(1).map((l) => l.trim().replace(/^at /, ''))
    .filter((l) => l !== '' && !/[\\/]src[\\/]runtime[\\/]/.test(l));
  return frames.slice(0, 3).join(' <- ') || 'unknown';
}

function toBufferBinding(b: Binding): GPUBufferBinding {
  if ('parts' in b) {
    const p = b.part;
    return { buffer: p.buffer, offset: p.byteOffset, size: p.byteLength };
  }
  if ('byteOffset' in b) return { buffer: b.buffer, offset: b.byteOffset, size: b.byteLength };
  return { buffer: b.buffer, offset: b.offset ?? 0, size: b.size };
}
