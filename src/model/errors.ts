/** Typed errors for checkpoint and config problems. Messages always name the file (and the tensor/field). */
import { VilavtError } from '../runtime/errors.js';

/** One problem found in a checkpoint: the file it was found in (if any) and the tensor it concerns (if any). */
export interface CheckpointProblem {
  file?: string;
  tensor?: string;
  message: string;
}

function describe(p: CheckpointProblem): string {
  const where = [p.file, p.tensor].filter((s) => s !== undefined && s !== '').join(': ');
  return where ? `${where}: ${p.message}` : p.message;
}

/** Bad or unsupported weights: corrupt/truncated safetensors, bad index, missing or misshaped tensors. */
export class CheckpointError extends VilavtError {
  /** Every problem found, in the order found; `message` lists them all. */
  readonly problems: readonly CheckpointProblem[];

  constructor(problems: CheckpointProblem | CheckpointProblem[], summary?: string) {
    const list = Array.isArray(problems) ? problems : [problems];
    const lines = list.map(describe);
    const msg =
      list.length === 1 && summary === undefined
        ? lines[0]!
        : `${summary ?? 'checkpoint problems'} (${list.length}):\n` + lines.map((l) => `  - ${l}`).join('\n');
    super('checkpoint', msg);
    this.problems = list;
  }

  /** File of the first problem (convenience for single-problem errors). */
  get file(): string | undefined {
    return this.problems[0]?.file;
  }
  /** Tensor of the first problem (convenience for single-problem errors). */
  get tensor(): string | undefined {
    return this.problems[0]?.tensor;
  }
}

/** Missing or invalid field in config.json / generation_config.json / preprocessor_config.json. */
export class ConfigError extends VilavtError {
  constructor(
    readonly file: string,
    readonly field: string,
    detail: string,
  ) {
    super('config', `${file}: ${field}: ${detail}`);
  }
}
