// The three tool-loop protocols by name: a driver for a question, and which one a checkpoint was trained for.
import { ChatDriver } from './driver.js';
import { DeepEyesDriver } from './deepeyes.js';
import { ChatError } from './errors.js';
import { SYSTEM_NAMES, type LoopDriver, type LoopQuestion, type SystemName } from './loop-driver.js';
import { PixelReasonerDriver } from './pixelreasoner.js';

/** One line per system on what differs (README, `vilavt chat --help`). */
export const SYSTEM_SUMMARY: Readonly<Record<SystemName, string>> = {
  vilavt: 'ViLaVT: <tool> JSON with many regions on any image; crops re-encoded jointly with the inquiry (ViLaVT checkpoints only); errors fed back; 10 calls',
  deepeyes: 'DeepEyes: first <tool_call> eval()-ed as Python; one bbox in ORIGINAL-file pixels, unclamped Pillow crop; any error ends the sample; 11 calls',
  pixelreasoner: 'Pixel-Reasoner: last <tool_call> json-parsed, only when it ends the response; normalized or pixel bbox +0.1 padding on any image; errors fed back; 4 tools, 16 images, 12088 tokens; \\boxed{} answer',
};

export function parseSystemName(s: string): SystemName {
  if ((SYSTEM_NAMES as readonly string[]).includes(s)) return s as SystemName;
  throw new ChatError(`unknown system ${JSON.stringify(s)} (expected ${SYSTEM_NAMES.join(', ')})`);
}

/** A fresh driver of `system` for one question. */
export function createLoopDriver(system: SystemName, q: LoopQuestion): LoopDriver {
  switch (system) {
    case 'vilavt':
      return new ChatDriver({
        images: q.images, question: q.question, problemType: q.problemType ?? 'free-form', options: q.options ?? null,
        settings: q.maxRounds === undefined ? {} : { maxRounds: q.maxRounds }, render: q.render,
      });
    case 'deepeyes':
      return new DeepEyesDriver(q);
    case 'pixelreasoner':
      return new PixelReasonerDriver(q);
  }
}

/**
 * The system a checkpoint was trained for, from its config.json and folder name: ViLaVT checkpoints (a text
 * encoder) run ViLaVT; a plain qwen2_5_vl fine-tune is told apart only by a name (`_name_or_path`, the folder)
 * mentioning DeepEyes or Pixel-Reasoner; otherwise null (the caller must say which).
 */
export function systemFromCheckpoint(configJson: unknown, folderName = ''): SystemName | null {
  const cfg = configJson !== null && typeof configJson === 'object' ? (configJson as Record<string, unknown>) : {};
  if (cfg.model_type === 'vilavt' || (cfg.text_encoder_config !== undefined && cfg.text_encoder_config !== null)) return 'vilavt';
  const names = [cfg._name_or_path, cfg.name_or_path, folderName].filter((x): x is string => typeof x === 'string').join(' ');
  if (/deep-?eyes/i.test(names)) return 'deepeyes';
  if (/pixel-?reasoner/i.test(names)) return 'pixelreasoner';
  return null;
}
