// Platform-neutral wrapper over @huggingface/tokenizers for the Qwen tokenizers (the checkpoint's Qwen2 BPE
// and the Qwen3-Embedding inquiry tokenizer). Built from the parsed tokenizer.json and tokenizer_config.json
// objects; file access lives in src/platform/.
import { Tokenizer } from '@huggingface/tokenizers';
import { MissingSpecialTokenError, TokenizerError } from './errors.js';

export interface AddedTokenInfo {
  id: number;
  content: string;
  special: boolean;
}

/** The Qwen2.5-VL token ids the engine relies on. */
export interface QwenSpecialIds {
  endOfText: number;
  imStart: number;
  imEnd: number;
  visionStart: number;
  visionEnd: number;
  imagePad: number;
  videoPad: number;
}

const QWEN_SPECIAL_TOKENS: Record<keyof QwenSpecialIds, string> = {
  endOfText: '<|endoftext|>',
  imStart: '<|im_start|>',
  imEnd: '<|im_end|>',
  visionStart: '<|vision_start|>',
  visionEnd: '<|vision_end|>',
  imagePad: '<|image_pad|>',
  videoPad: '<|video_pad|>',
};

/** A piece of the post-processor's single-sequence template: the text's ids, or fixed special ids. */
export type TemplatePiece = { kind: 'sequence' } | { kind: 'special'; token: string; ids: number[] };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** GPT-2's bytes_to_unicode, inverted: ByteLevel token character -> byte. */
function byteLevelDecoderTable(): Map<string, number> {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const table = new Map<string, number>();
  const isPrintable = new Set(printable);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    table.set(String.fromCodePoint(isPrintable.has(b) ? b : 256 + n++), b);
  }
  return table;
}

function tokenString(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (isObject(v) && typeof v.content === 'string') return v.content; // AddedToken serialisation
  return null;
}

function checkIds(ids: ArrayLike<number>, what: string): void {
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (!Number.isSafeInteger(id) || id < 0) throw new TokenizerError(`${what}: token id at position ${i} is not a non-negative integer: ${id}`);
  }
}

export interface DecodeOptions {
  /** Drop added tokens marked `special` (HF `skip_special_tokens=True`). */
  skipSpecialTokens?: boolean;
}

export class TextTokenizer {
  /** Number of ids the tokenizer knows (max id + 1, added tokens included). */
  readonly size: number;
  readonly addedTokens: readonly AddedTokenInfo[];
  /** The post-processor's template for one sequence, or null when it adds nothing (Qwen2: ByteLevel). */
  readonly singleTemplate: readonly TemplatePiece[] | null;
  private readonly tok: Tokenizer;
  private readonly config: Record<string, unknown>;
  private readonly addedById = new Map<number, AddedTokenInfo>();
  private readonly addedByContent = new Map<string, AddedTokenInfo>();
  private readonly byteTable: Map<string, number> | null;
  private qwenIds: QwenSpecialIds | undefined;

  /**
   * @param tokenizerJson parsed tokenizer.json
   * @param tokenizerConfig parsed tokenizer_config.json ({} when absent)
   * @param name what to call this tokenizer in error messages
   */
  constructor(tokenizerJson: unknown, tokenizerConfig: unknown = {}, readonly name = 'tokenizer.json') {
    if (!isObject(tokenizerJson) || !isObject(tokenizerJson.model)) throw new TokenizerError(`${name}: not a tokenizer.json (no "model" object)`);
    if (!isObject(tokenizerConfig)) throw new TokenizerError(`${name}: tokenizer_config must be a JSON object`);
    const model = tokenizerJson.model;
    if (model.type !== 'BPE' || !isObject(model.vocab)) {
      throw new TokenizerError(`${name}: only BPE tokenizers with a vocab are supported (model.type = ${JSON.stringify(model.type)})`);
    }
    const added = tokenizerJson.added_tokens ?? [];
    if (!Array.isArray(added)) throw new TokenizerError(`${name}: "added_tokens" must be a list`);
    let maxId = -1;
    for (const id of Object.values(model.vocab)) if (typeof id === 'number' && id > maxId) maxId = id;
    const infos: AddedTokenInfo[] = [];
    for (const t of added) {
      if (!isObject(t) || typeof t.id !== 'number' || typeof t.content !== 'string') {
        throw new TokenizerError(`${name}: malformed added token ${JSON.stringify(t)}`);
      }
      const info = { id: t.id, content: t.content, special: t.special === true };
      infos.push(info);
      this.addedById.set(info.id, info);
      this.addedByContent.set(info.content, info);
      if (info.id > maxId) maxId = info.id;
    }
    this.size = maxId + 1;
    this.addedTokens = infos;
    this.config = tokenizerConfig;
    this.singleTemplate = parseSingleTemplate(tokenizerJson.post_processor, name);
    const decoder = tokenizerJson.decoder;
    this.byteTable = isObject(decoder) && decoder.type === 'ByteLevel' ? byteLevelDecoderTable() : null;
    try {
      this.tok = new Tokenizer(tokenizerJson, tokenizerConfig);
    } catch (e) {
      throw new TokenizerError(`${name}: cannot build the tokenizer: ${(e as Error).message}`, { cause: e });
    }
  }

  /**
   * Token ids of `text`. Added tokens (`<|im_start|>`, `<|image_pad|>`, …) are matched first, the rest goes
   * through NFC + the Qwen split regex + byte-level BPE. Nothing is prepended or appended (Qwen has no BOS;
   * the post-processor is not applied — see `encodeWithTemplate`).
   */
  encode(text: string): number[] {
    if (typeof text !== 'string') throw new TokenizerError(`${this.name}: encode() needs a string, got ${typeof text}`);
    return this.tok.encode(text, { add_special_tokens: false }).ids;
  }

  /**
   * HF `tokenizer.decode(ids, skip_special_tokens)`. Ids at or beyond `size` (the LLM's padding rows of the
   * embedding, e.g. 151665..152063) decode to nothing, as in HF tokenizers.
   */
  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    checkIds(ids, `${this.name}: decode`);
    return this.tok.decode([...ids], { skip_special_tokens: opts.skipSpecialTokens ?? false });
  }

  /** A streaming detokenizer (see DecodeStream). */
  decodeStream(opts: DecodeOptions = {}): DecodeStream {
    return new DecodeStream(this, opts.skipSpecialTokens ?? false);
  }

  /** The UTF-8 bytes token `id` stands for (byte-level tokenizers only); empty for ids beyond the vocabulary. */
  tokenBytes(id: number): Uint8Array {
    checkIds([id], `${this.name}: tokenBytes`);
    const added = this.addedById.get(id);
    if (added) return new TextEncoder().encode(added.content);
    if (!this.byteTable) throw new TokenizerError(`${this.name}: byte-level decoding needs a ByteLevel decoder`);
    const tok = this.tok.id_to_token(id);
    if (tok === undefined) return new Uint8Array(0);
    const out = new Uint8Array(tok.length);
    let n = 0;
    for (const ch of tok) {
      const b = this.byteTable.get(ch);
      if (b === undefined) throw new TokenizerError(`${this.name}: token ${id} (${JSON.stringify(tok)}) is not byte-level`);
      out[n++] = b;
    }
    return out.subarray(0, n);
  }

  isSpecial(id: number): boolean {
    return this.addedById.get(id)?.special === true;
  }

  tokenToId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.tok.id_to_token(id);
  }

  /** The id of `token`, or MissingSpecialTokenError. */
  requireId(token: string): number {
    const id = this.addedByContent.get(token)?.id ?? this.tok.token_to_id(token);
    if (id === undefined) throw new MissingSpecialTokenError(token, this.name);
    return id;
  }

  /** The Qwen2.5-VL special ids; throws MissingSpecialTokenError naming the first missing one. */
  get specialIds(): QwenSpecialIds {
    if (!this.qwenIds) {
      const ids = {} as QwenSpecialIds;
      for (const [k, t] of Object.entries(QWEN_SPECIAL_TOKENS)) ids[k as keyof QwenSpecialIds] = this.requireId(t);
      this.qwenIds = ids;
    }
    return this.qwenIds;
  }

  /** tokenizer_config.json `pad_token` as an id (Qwen: `<|endoftext|>` 151643). */
  get padId(): number {
    return this.configTokenId('pad_token');
  }

  /** tokenizer_config.json `eos_token` as an id (Qwen2.5: `<|im_end|>` 151645). */
  get eosId(): number {
    return this.configTokenId('eos_token');
  }

  private configTokenId(key: string): number {
    const t = tokenString(this.config[key]);
    if (t === null) throw new MissingSpecialTokenError(key, `${this.name}'s tokenizer_config (no ${key} set)`);
    return this.requireId(t);
  }
}

/** The `single` template of a TemplateProcessing post-processor (also inside a Sequence), or null. */
function parseSingleTemplate(pp: unknown, name: string): TemplatePiece[] | null {
  if (!isObject(pp)) return null;
  if (pp.type === 'Sequence') {
    const procs = Array.isArray(pp.processors) ? pp.processors : [];
    const found = procs.map((p) => parseSingleTemplate(p, name)).filter((t): t is TemplatePiece[] => t !== null);
    if (found.length > 1) throw new TokenizerError(`${name}: more than one TemplateProcessing post-processor`);
    return found[0] ?? null;
  }
  if (pp.type !== 'TemplateProcessing') return null;
  const bad = (why: string) => new TokenizerError(`${name}: post_processor TemplateProcessing: ${why}`);
  if (!Array.isArray(pp.single)) throw bad('no "single" list');
  const specials = isObject(pp.special_tokens) ? pp.special_tokens : {};
  return pp.single.map((item): TemplatePiece => {
    if (isObject(item) && isObject(item.Sequence)) {
      if (item.Sequence.id !== 'A') throw bad(`single template refers to sequence ${JSON.stringify(item.Sequence.id)}`);
      return { kind: 'sequence' };
    }
    if (isObject(item) && isObject(item.SpecialToken) && typeof item.SpecialToken.id === 'string') {
      const token = item.SpecialToken.id;
      const entry = specials[token];
      const ids = isObject(entry) && Array.isArray(entry.ids) ? entry.ids : null;
      if (!ids || !ids.every((x) => Number.isSafeInteger(x) && (x as number) >= 0)) throw bad(`special token ${JSON.stringify(token)} has no ids`);
      return { kind: 'special', token, ids: ids as number[] };
    }
    throw bad(`unknown template item ${JSON.stringify(item)}`);
  });
}

/**
 * Incremental detokenization for streaming: `push(id)` returns the text that became complete with this token.
 * Works on bytes, so a character split over several tokens (CJK, emoji) is emitted once all its bytes are in;
 * the concatenation of every push() and flush() equals `decode(allIds)` (for valid UTF-8 output).
 */
export class DecodeStream {
  // ignoreBOM: a token may start with U+FEFF (e.g. 3225), which decode() keeps.
  private readonly utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
  constructor(private readonly tok: TextTokenizer, private readonly skipSpecialTokens: boolean) {}

  push(id: number): string {
    if (this.skipSpecialTokens && this.tok.isSpecial(id)) return '';
    return this.utf8.decode(this.tok.tokenBytes(id), { stream: true });
  }

  /** End of stream: an incomplete trailing character becomes U+FFFD (as `decode` does). */
  flush(): string {
    return this.utf8.decode();
  }
}
