// Node entry to WebGPU through Dawn (the `webgpu` package). The GPU object returned by Dawn's create() must stay
// strongly referenced for as long as any device from it is used: if it is garbage-collected, dawn.node crashes.
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Gpu, type GpuOptions } from '../runtime/device.js';
import { NoAdapterError } from '../runtime/errors.js';

let dawn: GPU | null = null; // strong module-level reference (see above)

export async function dawnGpu(flags: string[] = []): Promise<GPU> {
  if (dawn) return dawn;
  if (!process.env.XDG_RUNTIME_DIR) {
    // Vulkan loaders warn (and some drivers fail) without it; a private 0700 directory is what they expect.
    const dir = join(tmpdir(), `xdg-runtime-${process.getuid?.() ?? 'user'}`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    process.env.XDG_RUNTIME_DIR = dir;
  }
  let mod: { create: (o: string[]) => GPU; globals: object };
  try {
    mod = (await import('webgpu')) as unknown as typeof mod;
  } catch (e) {
    throw new NoAdapterError(`the 'webgpu' package (Dawn for Node) could not be loaded: ${(e as Error).message}`);
  }
  Object.assign(globalThis, mod.globals); // GPUBufferUsage, GPUMapMode, ... as in browsers
  // Dawn quantizes timestamps (to 100 µs in browsers) unless told not to: profiles need them exact.
  dawn = mod.create(['disable-dawn-features=timestamp_quantization', ...flags]);
  return dawn;
}

/** Create the engine's Gpu in Node (VILAVT_DEBUG_DISPATCH=1: debug mode, see GpuOptions.debugDispatch). */
export async function createNodeGpu(opts: Omit<GpuOptions, 'gpu'> = {}): Promise<Gpu> {
  const debugDispatch = opts.debugDispatch ?? process.env.VILAVT_DEBUG_DISPATCH === '1';
  return Gpu.create({ ...opts, debugDispatch, gpu: await dawnGpu() });
}
