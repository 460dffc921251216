// The Qwen2.5(-VL) tokenizer files derived from Qwen3's (same BPE; the four Qwen3-only added tokens removed), as the
// demo checkpoint ships them and as tools that need the real vocabulary without a checkpoint build them.
import { QWEN25_VL_CHAT_TEMPLATE } from './chat-template.js';
import { QWEN3_EXTRA_TOKENS } from './inquiry-tokenizer.js';

type Json = Record<string, unknown>;
const QWEN3_ONLY = new Set(QWEN3_EXTRA_TOKENS.map((t) => t.id));

/** The Qwen2.5 tokenizer.json from the Qwen3 one: same BPE, added tokens 151643..151664 only. */
export function qwen25TokenizerJson(qwen3: Json): Json {
  const added = qwen3.added_tokens as { id: number }[];
  return { ...qwen3, added_tokens: added.filter((t) => !QWEN3_ONLY.has(t.id)) };
}

/** Qwen2.5-VL's tokenizer_config.json: Qwen3's minus the Qwen3-only tokens, with the Qwen2.5-VL chat template. */
export function qwen25TokenizerConfig(qwen3Config: Json): Json {
  const decoder = Object.fromEntries(
    Object.entries(qwen3Config.added_tokens_decoder as Json).filter(([id]) => !QWEN3_ONLY.has(Number(id))),
  );
  return { ...qwen3Config, added_tokens_decoder: decoder, chat_template: QWEN25_VL_CHAT_TEMPLATE };
}
