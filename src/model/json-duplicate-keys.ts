// JSON.parse keeps the last of two equal keys silently; a safetensors header listing a tensor twice is corrupt.

/**
 * Keys that occur more than once directly in the top-level object of `text` (valid JSON, already parsed).
 * One pass over the characters: strings are skipped as units, keys are the strings at depth 1 followed by ':'.
 */
export function duplicateTopLevelKeys(text: string): string[] {
  const seen = new Set<string>();
  const dup = new Set<string>();
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '{' || ch === '[') depth++;
    else if (ch === '}' || ch === ']') depth--;
    else if (ch === '"') {
      const start = i;
      for (i++; text[i] !== '"'; i++) if (text[i] === '\\') i++;
      if (depth !== 1) continue;
      let j = i + 1;
      while (text[j] === ' ' || text[j] === '\t' || text[j] === '\n' || text[j] === '\r') j++;
      if (text[j] !== ':') continue;
      const key = JSON.parse(text.slice(start, i + 1)) as string;
      (seen.has(key) ? dup : seen).add(key);
    }
  }
  return [...dup];
}
