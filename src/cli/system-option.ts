// `--system vilavt|deepeyes|pixelreasoner` for the commands that run a checkpoint: the flag, else the system the
// checkpoint can be told to be (ViLaVT checkpoints; DeepEyes / Pixel-Reasoner named in config.json or the folder).
import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { SystemName } from '../chat/loop-driver.js';
import { parseSystemName, systemFromCheckpoint } from '../chat/systems.js';
import { CliError, UsageError } from './fail.js';

export async function resolveSystem(modelDir: string, flag: string | undefined): Promise<SystemName> {
  let config: unknown = null;
  try {
    config = JSON.parse(await readFile(join(modelDir, 'config.json'), 'utf8'));
  } catch {
    // The checkpoint loader reports a missing or broken config.json with its own typed error.
  }
  const plain = config !== null && typeof config === 'object' && systemFromCheckpoint(config) !== 'vilavt';
  if (flag !== undefined) {
    let system: SystemName;
    try {
      system = parseSystemName(flag);
    } catch (e) {
      throw new UsageError(`--system: ${(e as Error).message}`);
    }
    if (system === 'vilavt' && plain) {
      throw new CliError(`${modelDir} is a plain qwen2_5_vl checkpoint (no text encoder): ViLaVT's loop needs a ViLaVT checkpoint; use --system deepeyes or --system pixelreasoner`);
    }
    return system;
  }
  // An unreadable config.json: the checkpoint loader reports it (after the tokenizer files) with its own typed error.
  if (config === null) return 'vilavt';
  const found = systemFromCheckpoint(config, basename(resolve(modelDir)));
  if (found === null) {
    throw new UsageError(`${modelDir} is a plain qwen2_5_vl checkpoint whose name does not say which system it is: pass --system deepeyes or --system pixelreasoner`);
  }
  return found;
}
