// A loaded ViLaVT (or plain Qwen2.5-VL) model on one GPU: weights plus the three networks. Stateless between
// calls — conversations hold their own KV caches — so several sessions can share one loaded model.
import type { Gpu } from '../runtime/device.js';
import type { ActDType, WeightDType } from '../runtime/dtype.js';
import { VilavtError } from '../runtime/errors.js';
import { q4RowBlock } from '../ops/matmul-q4.js';
import type { Tensor } from '../runtime/tensor.js';
import type { Checkpoint } from './checkpoint.js';
import type { GenerationConfig, ModelConfig, PreprocessorConfig } from './config.js';
import { LanguageModel } from './llm.js';
import { TextEncoder } from './text-encoder.js';
import { VisionEncoder } from './vision-encoder.js';
import { destroyModelWeights, loadModelWeights, type ModelWeights } from './weights.js';

export interface ModelOptions {
  /** Activation precision: 'f32' (accuracy reference) or 'f16' (needs shader-f16). Default: f32. */
  activations?: ActDType;
  /** Matrix storage dtype (default: the checkpoint's own, bf16 for released checkpoints). */
  storage?: WeightDType;
  onProgress?: (done: number, total: number, name: string) => void;
}

export class VilavtModel {
  private destroyed = false;

  private constructor(
    readonly gpu: Gpu,
    readonly config: ModelConfig,
    readonly weights: ModelWeights,
    readonly vision: VisionEncoder,
    readonly textEncoder: TextEncoder | null,
    readonly llm: LanguageModel,
    readonly act: ActDType,
    /** The checkpoint's image normalisation (preprocessor_config.json) and stop tokens (generation_config.json). */
    readonly preprocessor: PreprocessorConfig,
    readonly generation: GenerationConfig,
  ) {}

  static async load(gpu: Gpu, ckpt: Checkpoint, opts: ModelOptions = {}): Promise<VilavtModel> {
    const act = opts.activations ?? 'f32';
    if (act === 'f16' && !gpu.features.f16) {
      throw new VilavtError('unsupported', 'f16 activations need the shader-f16 feature, which this adapter does not offer; use f32');
    }
    const cfg = ckpt.config;
    const w = await loadModelWeights(gpu, ckpt, {
      storage: opts.storage, onProgress: opts.onProgress, q4RowBlock: (group) => q4RowBlock(gpu, group),
    });
    const vision = new VisionEncoder(gpu, cfg.vision, w.vision, act);
    const text = cfg.textEncoder && w.textEncoder && w.textProj
      ? new TextEncoder(gpu, cfg.textEncoder, w.textEncoder, w.textProj, act) : null;
    const llm = new LanguageModel(gpu, cfg.llm, w.llm, act);
    return new VilavtModel(gpu, cfg, w, vision, text, llm, act, ckpt.preprocessor, ckpt.generation);
  }

  /** Inquiry features for the QA blocks (null for an empty inquiry: zero text keys). */
  async encodeInquiry(validIds: readonly number[]): Promise<Tensor | null> {
    if (validIds.length === 0) return null;
    if (!this.textEncoder) throw new VilavtError('unsupported', 'this checkpoint has no text encoder (plain Qwen2.5-VL): inquiries cannot condition the vision encoder');
    return this.textEncoder.encode(validIds);
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    destroyModelWeights(this.gpu, this.weights);
  }
}
