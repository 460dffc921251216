/** Node loader of a checkpoint folder's text side (tokenizers + chat template). */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TokenizerError } from '../text/errors.js';
import { loadTextAssets, MAX_TEXT_FILE_BYTES, type TextAssets } from '../text/tokenizer-files.js';

export async function loadTokenizerDir(dir: string): Promise<TextAssets> {
  return loadTextAssets(async (name) => {
    const path = join(dir, name);
    const st = await stat(path).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return null;
      throw e;
    });
    if (st === null) return null;
    // A device or FIFO (/dev/zero) has no size to check and never ends.
    if (!st.isFile()) throw new TokenizerError(`${name} (${path}) is not a regular file`);
    if (st.size > MAX_TEXT_FILE_BYTES) {
      throw new TokenizerError(`${name} is ${st.size} bytes, over the ${MAX_TEXT_FILE_BYTES}-byte cap for tokenizer files: not a tokenizer file`);
    }
    return await readFile(path, 'utf8');
  });
}
