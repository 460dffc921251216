// The processor step after tokenization (MODEL.md §6.3): each `<|image_pad|>` of the rendered prompt becomes
// (h/28)*(w/28) copies of the image token, image k taking the k-th placeholder.
import { ImagePadMismatchError } from './errors.js';

/** `ids` with the k-th occurrence of `padId` repeated `counts[k]` times. */
export function expandImagePads(ids: readonly number[], padId: number, counts: readonly number[]): number[] {
  counts.forEach((n, k) => {
    if (!Number.isSafeInteger(n) || n < 1) throw new ImagePadMismatchError(`image ${k}: pad count must be a positive integer, got ${n}`);
  });
  let placeholders = 0;
  for (const id of ids) if (id === padId) placeholders++;
  if (placeholders !== counts.length) {
    throw new ImagePadMismatchError(`the prompt has ${placeholders} image placeholder(s) (id ${padId}) but ${counts.length} image(s) were given`);
  }
  const out: number[] = [];
  let k = 0;
  for (const id of ids) {
    if (id !== padId) out.push(id);
    else for (let n = counts[k++]!; n > 0; n--) out.push(padId);
  }
  return out;
}
