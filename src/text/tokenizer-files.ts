// Loads the text side of a checkpoint from its files, platform-neutrally (the caller supplies file reads):
// tokenizer.json + tokenizer_config.json, the chat template, and the inquiry tokenizer (spec §4; see
// inquiry-tokenizer.ts for the file name and the fallback).
import { ChatTemplate } from './chat-template.js';
import { TokenizerError } from './errors.js';
import { deriveInquiryTokenizerJson, INQUIRY_TOKENIZER_CONFIG_FILE, INQUIRY_TOKENIZER_FILE } from './inquiry-tokenizer.js';
import { TextTokenizer } from './tokenizer.js';

/** Tokenizer/template files are a few MB (Qwen2.5's tokenizer.json: 7 MB); a larger one is not a tokenizer file. */
export const MAX_TEXT_FILE_BYTES = 64 * 1024 * 1024;

/** Reads a file of the checkpoint folder as text; null when it does not exist. Readers enforce MAX_TEXT_FILE_BYTES. */
export type ReadTextFile = (name: string) => Promise<string | null>;

export interface TextAssets {
  /** The checkpoint's (Qwen2) tokenizer: prompts and responses. */
  tokenizer: TextTokenizer;
  chatTemplate: ChatTemplate;
  /** The Qwen3-Embedding tokenizer for inquiries. */
  inquiry: TextTokenizer;
  inquirySource: typeof INQUIRY_TOKENIZER_FILE | 'derived from tokenizer.json';
}

async function readJson(read: ReadTextFile, name: string): Promise<unknown | null> {
  const text = await read(name);
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new TokenizerError(`${name}: invalid JSON: ${(e as Error).message}`, { cause: e });
  }
}

export async function loadTextAssets(read: ReadTextFile): Promise<TextAssets> {
  const tokJson = await readJson(read, 'tokenizer.json');
  if (tokJson === null) throw new TokenizerError('tokenizer.json is missing from the checkpoint');
  const tokConfig = (await readJson(read, 'tokenizer_config.json')) ?? {};
  const tokenizer = new TextTokenizer(tokJson, tokConfig, 'tokenizer.json');
  void tokenizer.specialIds; // fail early, naming the missing token

  const chatTemplate = ChatTemplate.fromFiles({
    chatTemplateJinja: await read('chat_template.jinja'),
    chatTemplateJson: await readJson(read, 'chat_template.json'),
    tokenizerConfig: tokConfig,
  });

  const inqJson = await readJson(read, INQUIRY_TOKENIZER_FILE);
  let inquiry: TextTokenizer;
  let inquirySource: TextAssets['inquirySource'];
  if (inqJson !== null) {
    // Qwen3-Embedding's tokenizer_config: pad_token <|endoftext|>; used when no config file ships with it.
    const inqConfig = (await readJson(read, INQUIRY_TOKENIZER_CONFIG_FILE)) ?? { pad_token: '<|endoftext|>', eos_token: '<|im_end|>' };
    inquiry = new TextTokenizer(inqJson, inqConfig, INQUIRY_TOKENIZER_FILE);
    inquirySource = INQUIRY_TOKENIZER_FILE;
  } else {
    inquiry = new TextTokenizer(deriveInquiryTokenizerJson(tokJson), { ...(tokConfig as object), pad_token: '<|endoftext|>' }, 'inquiry tokenizer (derived from tokenizer.json)');
    inquirySource = 'derived from tokenizer.json';
  }
  void inquiry.padId; // fail early
  return { tokenizer, chatTemplate, inquiry, inquirySource };
}
