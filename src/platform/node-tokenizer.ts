/** Node loader of a checkpoint folder's text side (tokenizers + chat template). */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadTextAssets, type TextAssets } from '../text/tokenizer-files.js';

export async function loadTokenizerDir(dir: string): Promise<TextAssets> {
  return loadTextAssets(async (name) => {
    try {
      return await readFile(join(dir, name), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  });
}
