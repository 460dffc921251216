// Qwen2.5-VL fine-tunes are published with two tensor-name layouts: the original one (`model.layers.*`,
// `model.embed_tokens`, `model.norm`, `visual.*`, `lm_head`) and the one newer Hugging Face releases write
// (transformers >= 4.52: `model.language_model.*`, `model.visual.*`, `lm_head`; other submodules of the top model,
// such as ViLaVT's text encoder, move under `model.` as well). The engine and the manifest use the original names;
// a nested checkpoint's names are mapped to them once, at open.
import { CheckpointError } from './errors.js';

export type TensorLayout = 'original' | 'hf-nested';

const NESTED = /^model\.(language_model|visual)\./;
/** Prefixes only the original layout writes. */
const ORIGINAL = /^(model\.(layers|embed_tokens|norm)\.|visual\.)/;

/** The layout of a checkpoint's tensor names; one mixing both is refused (which name would win is unknowable). */
export function detectTensorLayout(names: Iterable<string>, file: string): TensorLayout {
  let nested: string | null = null;
  let original: string | null = null;
  for (const n of names) {
    if (nested === null && NESTED.test(n)) nested = n;
    else if (original === null && ORIGINAL.test(n)) original = n;
  }
  if (nested !== null && original !== null) {
    throw new CheckpointError({ file, message: `tensor names mix the original layout (${original}) and the newer Hugging Face layout (${nested})` });
  }
  return nested !== null ? 'hf-nested' : 'original';
}

/** The original-layout name of a stored tensor name. */
export function canonicalTensorName(stored: string, layout: TensorLayout): string {
  if (layout === 'original') return stored;
  if (stored.startsWith('model.language_model.')) return 'model.' + stored.slice('model.language_model.'.length);
  if (stored.startsWith('model.visual.')) return 'visual.' + stored.slice('model.visual.'.length);
  if (stored.startsWith('model.')) return stored.slice('model.'.length); // e.g. model.text_encoder.* (ViLaVT)
  return stored;
}

/** The name the newer layout writes for an original-layout name (tests and tools that convert checkpoints). */
export function nestedTensorName(original: string, extraTopModules: readonly string[] = ['text_encoder', 'text_proj']): string {
  if (original.startsWith('model.')) return 'model.language_model.' + original.slice('model.'.length);
  if (original.startsWith('visual.')) return 'model.' + original;
  if (extraTopModules.some((m) => original === m || original.startsWith(m + '.'))) return 'model.' + original;
  return original;
}
