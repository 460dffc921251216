// References of the row movement ops (src/ops/rows.ts). Indices out of range follow the op's contract: a gather
// yields NaN rows, a scatter skips them, an embedding of an id >= V yields a NaN row.

/** dst unit i = src unit index[i]; a unit is `unitElems` consecutive values. */
export function refGatherRows(src: ArrayLike<number>, index: ArrayLike<number>, unitElems: number): Float64Array {
  const srcUnits = src.length / unitElems;
  const out = new Float64Array(index.length * unitElems);
  for (let i = 0; i < index.length; i++) {
    const s = index[i]!;
    for (let e = 0; e < unitElems; e++) out[i * unitElems + e] = s < srcUnits ? src[s * unitElems + e]! : NaN;
  }
  return out;
}

/** A copy of `dst` with unit index[i] replaced by src unit i. */
export function refScatterRows(src: ArrayLike<number>, index: ArrayLike<number>, dst: ArrayLike<number>,
  unitElems: number): Float64Array {
  const out = Float64Array.from(dst);
  const dstUnits = dst.length / unitElems;
  for (let i = 0; i < index.length; i++) {
    const d = index[i]!;
    if (d < dstUnits) for (let e = 0; e < unitElems; e++) out[d * unitElems + e] = src[i * unitElems + e]!;
  }
  return out;
}

/** out[t, :] = table[ids[t], :] for a [V, D] table. */
export function refEmbed(table: ArrayLike<number>, vocab: number, dim: number, ids: ArrayLike<number>): Float64Array {
  const out = new Float64Array(ids.length * dim);
  for (let t = 0; t < ids.length; t++) {
    const id = ids[t]!;
    for (let c = 0; c < dim; c++) out[t * dim + c] = id < vocab ? table[id * dim + c]! : NaN;
  }
  return out;
}
