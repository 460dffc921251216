// The count and bytes of the GPU buffers a Gpu has created and not yet destroyed. Every buffer of the engine is
// created by Gpu.createBuffer and destroyed by Gpu.destroyBuffer (weights, pooled activations, uniform arenas,
// readback and profiler buffers), so this is the device memory the engine holds: the soak test checks that it
// returns to the same level after every ask and every session (issue 11).

export interface BufferFactory {
  createBuffer(size: number, usage: number, label: string): GPUBuffer;
  /** Destroy a buffer made by createBuffer (a second call for the same buffer does nothing). */
  destroyBuffer(buffer: GPUBuffer): void;
}

export class BufferLedger {
  private readonly live = new Set<GPUBuffer>();
  private liveBytes = 0;
  private created = 0;

  add(buffer: GPUBuffer): void {
    this.live.add(buffer);
    this.liveBytes += buffer.size;
    this.created++;
  }

  /** Forget a buffer; false when it was not live (already destroyed, or not the engine's). */
  remove(buffer: GPUBuffer): boolean {
    if (!this.live.delete(buffer)) return false;
    this.liveBytes -= buffer.size;
    return true;
  }

  /** Live buffers (created minus destroyed), their bytes, and how many were ever created. */
  stats(): { buffers: number; bytes: number; created: number } {
    return { buffers: this.live.size, bytes: this.liveBytes, created: this.created };
  }
}
