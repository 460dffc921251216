// The kernel registry generated from kernels/*.wgsl (scripts/gen-wgsl.mjs): kernel names, the defines each one
// tests and its override constants become TypeScript types, so `gpu.pipeline('matvec', { defines: { W_BF61 } })`
// does not compile; the uniform struct and storage bindings a compiled variant declares become its signature,
// which `Recorder.dispatch` checks before anything reaches the GPU.
import { ShaderCompileError } from './errors.js';
import type { KernelModule } from './wgsl.js';
import { KERNELS } from './wgsl.generated.js';

export type KernelName = keyof typeof KERNELS;
type Meta<K extends KernelName> = (typeof KERNELS)[K];

/** Defines every kernel sees through the prelude (src/runtime/wgsl.ts). */
export type PreludeDefine = 'ACT_F16' | 'SUBGROUPS';
const PRELUDE_DEFINES: readonly string[] = ['ACT_F16', 'SUBGROUPS'];

export type KernelDefine<K extends KernelName> = Meta<K>['defines'][number] | PreludeDefine;
export type KernelDefines<K extends KernelName> = { readonly [D in KernelDefine<K>]?: boolean };
export type KernelConstants<K extends KernelName> = { readonly [C in Meta<K>['constants'][number]]?: number };

/** A variant of kernel K: its defines (boolean, for `#if`) and override constants. */
export interface KernelSpec<K extends KernelName> {
  defines?: KernelDefines<K>;
  constants?: KernelConstants<K>;
}

export type ParamType = 'u32' | 'i32' | 'f32';

/** What scripts/gen-wgsl.mjs records of one kernel (declarations with the file and line they are on). */
export interface KernelMeta {
  readonly defines: readonly string[];
  readonly constants: readonly string[];
  readonly uniforms: readonly { readonly file: string; readonly line: number; readonly fields: readonly (readonly [string, string])[] }[];
  readonly bindings: readonly { readonly file: string; readonly line: number; readonly binding: number }[];
}
export type KernelTable = Readonly<Record<string, KernelMeta>>;
export const KERNEL_TABLE: KernelTable = KERNELS;

/** What one compiled variant takes: its uniform fields (binding 0) and the number of storage bindings (1..n). */
export interface KernelSignature {
  readonly fields: readonly string[];
  readonly params: readonly ParamType[];
  readonly storageBindings: number;
}

/** Throws ShaderCompileError for a define or constant the kernel does not have (a typo would compile `#else`). */
export function checkSpec(kernel: string, meta: KernelMeta, spec: { defines?: object; constants?: object }): void {
  for (const d of Object.keys(spec.defines ?? {})) {
    if (!meta.defines.includes(d) && !PRELUDE_DEFINES.includes(d)) {
      throw new ShaderCompileError(kernel, `unknown define '${d}': kernels/${kernel}.wgsl tests ${[...meta.defines, ...PRELUDE_DEFINES].join(', ')}`);
    }
  }
  for (const c of Object.keys(spec.constants ?? {})) {
    if (!meta.constants.includes(c)) {
      throw new ShaderCompileError(kernel, `unknown override constant '${c}': kernels/${kernel}.wgsl has ${meta.constants.join(', ') || 'none'}`);
    }
  }
}

/** The signature of a built variant: the declarations whose lines the preprocessor kept. */
export function signatureOf(meta: KernelMeta, module: KernelModule): KernelSignature {
  const kept = new Set<string>();
  module.code.split('\n').forEach((text, i) => {
    const at = module.origin[i];
    if (at && text.trim() !== '') kept.add(`${at.file}:${at.line}`);
  });
  const uniform = meta.uniforms.find((u) => kept.has(`${u.file}:${u.line}`));
  const bindings = new Set(meta.bindings.filter((b) => kept.has(`${b.file}:${b.line}`)).map((b) => b.binding));
  return {
    fields: uniform ? uniform.fields.map(([name]) => name) : [],
    params: uniform ? uniform.fields.map(([, type]) => type as ParamType) : [],
    storageBindings: bindings.size,
  };
}
