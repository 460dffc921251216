// Thread layouts shared by the element-wise op families (rmsnorm, activation, rope, rows).
import type { Gpu } from '../runtime/device.js';

/**
 * CPU adapters (lavapipe, SwiftShader; `gpu.cpuLayout`) run a workgroup's invocations as SIMD lanes over a loop,
 * and every storage load with a computed offset becomes a per-lane scalar load: one invocation streaming a long
 * contiguous chunk is their fastest layout (bench/NOTES.md). Real GPUs want neighbouring invocations on
 * neighbouring addresses.
 *
 * Layout of the streaming element-wise kernels (activation, rows): invocations per workgroup and consecutive
 * items (vectors of 4 where shapes allow) per invocation. CPU adapters: contiguous chunks of 64 items; GPUs: one
 * item per invocation (coalesced). Measurements: bench/NOTES.md.
 */
export function streamLayout(gpu: Gpu): { workgroup: number; perInvocation: number } {
  return gpu.cpuLayout ? { workgroup: 64, perInvocation: 64 } : { workgroup: 256, perInvocation: 1 };
}

/** Workgroup size of the kernels that give each invocation a whole row or head on CPU adapters (norm, rope). */
export const CPU_UNIT_WORKGROUP = 16;
