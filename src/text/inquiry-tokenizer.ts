// Tokenization of the inquiry (the tool call's `query`) for the Qwen3-Embedding text encoder, MODEL.md §4:
//   tok(queries, padding="max_length", truncation=True, max_length=50)
// with Qwen3-Embedding's tokenizer.json, whose TemplateProcessing post-processor appends <|endoftext|>.
//
// Where the tokenizer comes from: the checkpoint does not ship it (every driver loads
// "Qwen/Qwen3-Embedding-0.6B"). The engine reads `inquiry_tokenizer.json` (+ optional
// `inquiry_tokenizer_config.json`) from the checkpoint folder when present; otherwise it derives the inquiry
// tokenizer from the checkpoint's own Qwen2 tokenizer.json (`deriveInquiryTokenizerJson`): Qwen3 uses the same
// byte-level BPE vocabulary and merges (ids < 151643) and the same special tokens up to 151664; Qwen3 adds
// `<tool_response>` `</tool_response>` `<think>` `</think>` (151665–151668) as added tokens, and Qwen3-Embedding's
// post-processor appends <|endoftext|>. Both are added by the derivation.
import { MissingSpecialTokenError, TokenizerError } from './errors.js';
import type { TemplatePiece, TextTokenizer } from './tokenizer.js';

export const INQUIRY_TOKENIZER_FILE = 'inquiry_tokenizer.json';
export const INQUIRY_TOKENIZER_CONFIG_FILE = 'inquiry_tokenizer_config.json';
export const INQUIRY_MAX_LENGTH = 50;

/** Added tokens of the Qwen3 tokenizer that Qwen2.5 lacks (ids 151665..151668, not special). */
export const QWEN3_EXTRA_TOKENS: readonly { id: number; content: string }[] = [
  { id: 151665, content: '<tool_response>' },
  { id: 151666, content: '</tool_response>' },
  { id: 151667, content: '<think>' },
  { id: 151668, content: '</think>' },
];

const EOT = '<|endoftext|>';

/** Qwen3-Embedding's post-processor: `$A <|endoftext|>` (pair: `$A <|endoftext|> $B:1 <|endoftext|>:1`). */
export function qwen3EmbeddingPostProcessor(endOfTextId: number): Record<string, unknown> {
  const eot = (typeId: number) => ({ SpecialToken: { id: EOT, type_id: typeId } });
  return {
    type: 'TemplateProcessing',
    single: [{ Sequence: { id: 'A', type_id: 0 } }, eot(0)],
    pair: [{ Sequence: { id: 'A', type_id: 0 } }, eot(0), { Sequence: { id: 'B', type_id: 1 } }, eot(1)],
    special_tokens: { [EOT]: { id: EOT, ids: [endOfTextId], tokens: [EOT] } },
  };
}

/**
 * The inquiry tokenizer.json reconstructed from a Qwen2/Qwen2.5 (or Qwen3) tokenizer.json: the four Qwen3-only
 * added tokens are appended when absent, and the post-processor becomes Qwen3-Embedding's. Shallow: the (large)
 * model section is shared with the input, which is not modified.
 */
export function deriveInquiryTokenizerJson(qwenTokenizerJson: unknown): Record<string, unknown> {
  const j = qwenTokenizerJson as { added_tokens?: unknown; model?: unknown };
  if (typeof j !== 'object' || j === null || !Array.isArray(j.added_tokens)) {
    throw new TokenizerError('deriveInquiryTokenizerJson: not a tokenizer.json with an added_tokens list');
  }
  const added = j.added_tokens as { id: number; content: string }[];
  const eot = added.find((t) => t.content === EOT);
  if (!eot) throw new MissingSpecialTokenError(EOT, 'the checkpoint tokenizer.json');
  const extra = [...added];
  for (const want of QWEN3_EXTRA_TOKENS) {
    const byContent = added.find((t) => t.content === want.content);
    if (byContent) {
      if (byContent.id !== want.id) throw new TokenizerError(`deriveInquiryTokenizerJson: ${want.content} has id ${byContent.id}, Qwen3 uses ${want.id}`);
      continue;
    }
    const byId = added.find((t) => t.id === want.id);
    if (byId) throw new TokenizerError(`deriveInquiryTokenizerJson: id ${want.id} is ${JSON.stringify(byId.content)}, Qwen3 uses it for ${want.content}`);
    extra.push({ id: want.id, content: want.content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: false } as never);
  }
  return { ...(j as Record<string, unknown>), added_tokens: extra, post_processor: qwen3EmbeddingPostProcessor(eot.id) };
}

export interface InquiryOptions {
  /** HF `max_length` with `truncation=True` (default 50). */
  maxLength?: number;
  /** Pad the row to this many slots (default maxLength: `padding="max_length"`); padTo >= the row's length. */
  padTo?: number;
}

export interface InquiryTokens {
  /** maxLength-truncated ids with the post-processor's tokens, right-padded with the pad id to padTo. */
  ids: number[];
  /** 1 for real tokens, 0 for padding; all 0 for a row whose ids all equal the pad id (empty query). */
  mask: number[];
  /** Number of leading mask-1 slots: the tokens the text encoder runs (0 for ""). */
  validLength: number;
}

/** The single-sequence template of `tok`; a tokenizer without one (plain Qwen2) gets `$A <|endoftext|>`. */
function templateOf(tok: TextTokenizer): readonly TemplatePiece[] {
  if (tok.singleTemplate) return tok.singleTemplate;
  return [{ kind: 'sequence' }, { kind: 'special', token: EOT, ids: [tok.requireId(EOT)] }];
}

/**
 * One row of `tok([query], padding="max_length", truncation=True, max_length)` plus the ViLaVT empty-query fix.
 * As in HF tokenizers, truncation happens BEFORE the post-processor: the text keeps at most
 * maxLength - (added tokens) ids (49 for Qwen3-Embedding), then <|endoftext|> is appended. Padding is on the
 * right (transformers' default; MODEL.md §10.2).
 */
export function tokenizeInquiry(tok: TextTokenizer, query: string, opts: InquiryOptions = {}): InquiryTokens {
  const maxLength = opts.maxLength ?? INQUIRY_MAX_LENGTH;
  const padTo = opts.padTo ?? maxLength;
  if (typeof query !== 'string') throw new TokenizerError(`inquiry must be a string, got ${typeof query}`);
  const template = templateOf(tok);
  const added = template.reduce((n, p) => n + (p.kind === 'special' ? p.ids.length : 0), 0);
  if (!Number.isSafeInteger(maxLength) || maxLength <= added) {
    throw new TokenizerError(`inquiry maxLength must be an integer > ${added} (the post-processor adds ${added} token(s)), got ${maxLength}`);
  }
  const text = tok.encode(query).slice(0, maxLength - added);
  const ids: number[] = [];
  for (const p of template) ids.push(...(p.kind === 'sequence' ? text : p.ids));
  if (!Number.isSafeInteger(padTo) || padTo < ids.length) {
    throw new TokenizerError(`inquiry padTo must be an integer >= ${ids.length} (the row's length), got ${padTo}`);
  }
  const pad = tok.padId;
  // Empty-query fix of the reference: a row made only of pad ids ("" -> [151643]) gets an all-zero mask.
  const validLength = ids.every((id) => id === pad) ? 0 : ids.length;
  const mask = Array.from({ length: padTo }, (_, i) => (i < validLength ? 1 : 0));
  while (ids.length < padTo) ids.push(pad);
  return { ids, mask, validLength };
}

/** The unpadded ids the engine's text encoder runs for `query` (positions 0..n-1); [] for "". */
export function validInquiryIds(tok: TextTokenizer, query: string, opts: Pick<InquiryOptions, 'maxLength'> = {}): number[] {
  const row = tokenizeInquiry(tok, query, { maxLength: opts.maxLength });
  return row.ids.slice(0, row.validLength);
}
