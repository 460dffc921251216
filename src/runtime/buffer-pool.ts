// Pooled storage buffers for activations: sizes are rounded to buckets (at most 25% waste) and reused, so the
// hot path (a decode step, a prefill chunk) allocates nothing once warm.
import type { BufferFactory } from './buffer-ledger.js';

const STORAGE_USAGE = GPUBufferUsageFlags();

function GPUBufferUsageFlags(): number {
  // GPUBufferUsage is a global in browsers and is installed by Dawn's globals in Node; use the spec values so
  // this module also loads before the globals exist.
  return 0x80 /* STORAGE */ | 0x04 /* COPY_SRC */ | 0x08 /* COPY_DST */;
}

export function bucketSize(bytes: number): number {
  const min = 256;
  if (bytes <= min) return min;
  const p = 2 ** Math.floor(Math.log2(bytes));
  for (const f of [1, 1.25, 1.5, 1.75, 2]) {
    const s = Math.ceil((p * f) / 256) * 256;
    if (s >= bytes) return s;
  }
  return Math.ceil(bytes / 256) * 256;
}

export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private liveBytes = 0;
  private pooledBytes = 0;

  constructor(private readonly buffers: BufferFactory) {}

  acquire(bytes: number, label = 'activation'): GPUBuffer {
    const size = bucketSize(Math.max(bytes, 4));
    const list = this.free.get(size);
    const buf = list?.pop();
    if (buf) {
      this.pooledBytes -= size;
      this.liveBytes += size;
      return buf;
    }
    this.liveBytes += size;
    return this.buffers.createBuffer(size, STORAGE_USAGE, label);
  }

  release(buf: GPUBuffer): void {
    const size = buf.size;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(buf);
    this.liveBytes -= size;
    this.pooledBytes += size;
  }

  /** Destroy every pooled (currently unused) buffer. */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) this.buffers.destroyBuffer(b);
    this.free.clear();
    this.pooledBytes = 0;
  }

  /** liveBytes: handed out and not released; pooledBytes: released, kept for reuse. */
  stats(): { liveBytes: number; pooledBytes: number } {
    return { liveBytes: this.liveBytes, pooledBytes: this.pooledBytes };
  }
}
