// Structure-aware mutations shared by the fuzzers: bytes (bit flips, insert/delete, splice, boundary integers),
// text (tokens of the format, unicode edge cases, deep nesting, huge numbers) and JSON trees (replace/delete/
// duplicate keys and values, change types, huge lengths), whose serialiser may write a key twice, which
// JSON.stringify cannot.
import type { Rng } from './rng.js';

// ---- bytes ------------------------------------------------------------------------------------------------------

const INTERESTING_U8 = [0, 1, 0x7f, 0x80, 0xff, 0x20, 0x22, 0x5c, 0x7b, 0x7d];
/** Integers at type and size boundaries, written as u16/u32/u64 (little- or big-endian) over existing bytes. */
const BOUNDARY_INTS = [0n, 1n, 2n, 7n, 8n, 255n, 256n, 0x7fffn, 0x8000n, 0xffffn, 0x10000n, 0x7fffffffn, 0x80000000n,
  0xffffffffn, 0x100000000n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n];

function writeInt(out: Uint8Array, at: number, v: bigint, bytes: number, littleEndian: boolean): void {
  for (let k = 0; k < bytes && at + k < out.length; k++) {
    const shift = BigInt(8 * (littleEndian ? k : bytes - 1 - k));
    out[at + k] = Number((v >> shift) & 0xffn);
  }
}

/** One random byte-level mutation of `b` (a new array; `b` is not changed). `pool`: other inputs to splice from. */
export function mutateBytes(rng: Rng, b: Uint8Array, pool: readonly Uint8Array[] = []): Uint8Array {
  const n = b.length;
  const at = n ? rng.int(n) : 0;
  switch (rng.int(9)) {
    case 0: { // bit flips
      const out = b.slice();
      for (let k = rng.range(1, 4); k > 0 && n; k--) out[rng.int(n)]! ^= 1 << rng.int(8);
      return out;
    }
    case 1: { // interesting or random byte
      const out = b.slice();
      if (n) out[at] = rng.chance(0.5) ? rng.pick(INTERESTING_U8) : rng.int(256);
      return out;
    }
    case 2: { // insert random bytes
      const ins = new Uint8Array(rng.skewed(64) + 1).map(() => rng.int(256));
      return concat(b.subarray(0, at), ins, b.subarray(at));
    }
    case 3: { // delete a range
      const len = Math.min(n - at, rng.skewed(n + 1) + 1);
      return concat(b.subarray(0, at), b.subarray(at + len));
    }
    case 4: { // duplicate a range in place
      const len = Math.min(n - at, rng.skewed(256) + 1);
      return concat(b.subarray(0, at + len), b.subarray(at, at + len), b.subarray(at + len));
    }
    case 5: { // boundary integer
      const out = b.slice();
      writeInt(out, at, rng.pick(BOUNDARY_INTS), rng.pick([2, 4, 8]), rng.chance(0.7));
      return out;
    }
    case 6: // truncate
      return b.slice(0, rng.int(n + 1));
    case 7: { // splice: our head, another input's tail
      const other = pool.length ? rng.pick(pool) : b;
      return concat(b.subarray(0, at), other.subarray(other.length ? rng.int(other.length) : 0));
    }
    default: { // overwrite a range with one repeated byte (runs of 0x00 / 0xff)
      const out = b.slice();
      out.fill(rng.pick(INTERESTING_U8), at, at + rng.skewed(128) + 1);
      return out;
    }
  }
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// ---- text -------------------------------------------------------------------------------------------------------

/** Numbers at the edges of what JSON, JS and Python represent. */
export const BOUNDARY_NUMBERS = ['0', '-0', '1', '-1', '0.5', '1e-7', '255', '65535', '2147483647', '2147483648', '4294967296',
  '9007199254740991', '9007199254740993', '1e15', '1e21', '1e308', '1e309', '-1e309', '5e-324', '1e-400', '1.7976931348623157e308',
  '123456789012345678901234567890', '0.1e1', '1E400', '-9223372036854775808', '18446744073709551616'];

/** Unicode that tends to break decoders, regexes and length arithmetic. */
export const UNICODE_EDGES = ['\u0000', '\ud800', '\udfff', '\ud83d\ude00', '\ufeff', '\u2028', '\u2029', '\u00a0', '\u3000',
  '\u180e', '\u200b', '\uffff', '\u0085', '\x1c', '\u202e', 'é', 'e\u0301', '\\u0000', '\\ud800', '\\uDFFF', '\\', '"', "'"];

/** A random string: ASCII mostly, some unicode edge cases, sometimes long. */
export function randomString(rng: Rng, maxLen = 40): string {
  const len = rng.skewed(maxLen);
  let s = '';
  for (let i = 0; i < len; i++) {
    const r = rng.float();
    s += r < 0.8 ? String.fromCharCode(rng.range(0x20, 0x7e)) : r < 0.95 ? rng.pick(UNICODE_EDGES) : String.fromCharCode(rng.int(0x10000));
  }
  return s;
}

/** `depth` opening brackets (mixed or one kind), optionally closed: nesting far past any recursion limit. */
export function deepNesting(rng: Rng, maxDepth = 100_000): string {
  const depth = rng.chance(0.5) ? rng.skewed(maxDepth) : rng.pick([990, 991, 992, 993, 995, 1000, 3500, 20_000, maxDepth]);
  const kinds = rng.pick([['['], ['{"a":'], ['('], ['[', '{"k":', '(']]);
  const opens: string[] = [];
  for (let i = 0; i < depth; i++) opens.push(kinds.length === 1 ? kinds[0]! : rng.pick(kinds));
  if (!rng.chance(0.8)) return opens.join('');
  const close = (o: string) => (o === '[' ? ']' : o === '(' ? ')' : '}');
  return opens.join('') + '0' + opens.reverse().map(close).join('');
}

/** One random text-level mutation. `tokens`: the format's own vocabulary (tags, keys, keywords). */
export function mutateText(rng: Rng, s: string, tokens: readonly string[], pool: readonly string[] = []): string {
  const n = s.length;
  const at = rng.int(n + 1);
  const insert = (x: string) => s.slice(0, at) + x + s.slice(at);
  switch (rng.int(11)) {
    case 0: return insert(rng.pick(tokens));
    case 1: return insert(rng.pick(BOUNDARY_NUMBERS));
    case 2: return insert(rng.pick(UNICODE_EDGES));
    case 3: return s.slice(0, at) + s.slice(at + rng.skewed(n + 1) + 1); // delete
    case 4: { // duplicate a range
      const len = rng.skewed(200) + 1;
      return s.slice(0, at + len) + s.slice(at, at + len) + s.slice(at + len);
    }
    case 5: { // replace a number with a boundary number
      const nums = [...s.matchAll(/-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?/g)];
      if (!nums.length) return insert(rng.pick(BOUNDARY_NUMBERS));
      const m = rng.pick(nums);
      return s.slice(0, m.index) + rng.pick(BOUNDARY_NUMBERS) + s.slice(m.index! + m[0].length);
    }
    case 6: { // splice with another input
      const o = pool.length ? rng.pick(pool) : s;
      return s.slice(0, at) + o.slice(rng.int(o.length + 1));
    }
    case 7: return insert(deepNesting(rng, rng.chance(0.9) ? 5000 : 100_000));
    case 8: return s.slice(0, at); // truncate
    case 9: { // flip one character's code unit
      if (!n) return insert(randomString(rng));
      const i = rng.int(n);
      return s.slice(0, i) + String.fromCharCode(s.charCodeAt(i) ^ (1 << rng.int(16))) + s.slice(i + 1);
    }
    default: return insert(randomString(rng));
  }
}

// ---- JSON trees -------------------------------------------------------------------------------------------------

/** A JSON document that may hold things JSON.stringify cannot write: duplicate keys and raw text (1e999, deep nests). */
export type JNode =
  | { t: 'raw'; text: string }
  | { t: 'arr'; items: JNode[] }
  | { t: 'obj'; entries: [string, JNode][] };

export function fromValue(v: unknown): JNode {
  if (Array.isArray(v)) return { t: 'arr', items: v.map(fromValue) };
  if (v !== null && typeof v === 'object') return { t: 'obj', entries: Object.entries(v).map(([k, x]) => [k, fromValue(x)]) };
  return { t: 'raw', text: JSON.stringify(v) ?? 'null' };
}

export function toText(node: JNode, pretty = false): string {
  const sep = pretty ? ', ' : ',';
  switch (node.t) {
    case 'raw': return node.text;
    case 'arr': return `[${node.items.map((x) => toText(x, pretty)).join(sep)}]`;
    case 'obj': return `{${node.entries.map(([k, x]) => `${JSON.stringify(k)}:${pretty ? ' ' : ''}${toText(x, pretty)}`).join(sep)}}`;
  }
}

function containers(node: JNode, out: JNode[] = []): JNode[] {
  if (node.t === 'raw') return out;
  out.push(node);
  for (const c of node.t === 'arr' ? node.items : node.entries.map((e) => e[1])) containers(c, out);
  return out;
}

/** A random JSON value: scalars at boundaries, strings with unicode, small containers, sometimes huge ones. */
export function randomValue(rng: Rng, keys: readonly string[], depth = 0): JNode {
  const r = rng.int(depth > 2 ? 6 : 9);
  switch (r) {
    case 0: return { t: 'raw', text: 'null' };
    case 1: return { t: 'raw', text: rng.chance(0.5) ? 'true' : 'false' };
    case 2: case 3: return { t: 'raw', text: rng.pick(BOUNDARY_NUMBERS) };
    case 4: return { t: 'raw', text: JSON.stringify(rng.chance(0.5) ? rng.pick(keys) : randomString(rng)) };
    case 5: return { t: 'raw', text: rng.chance(0.3) ? deepNesting(rng) : String(rng.int(100)) };
    case 6: return { t: 'arr', items: Array.from({ length: rng.skewed(6) }, () => randomValue(rng, keys, depth + 1)) };
    case 7: return { t: 'obj', entries: Array.from({ length: rng.skewed(6) }, () => [rng.pick(keys), randomValue(rng, keys, depth + 1)] as [string, JNode]) };
    default: { // huge length, now and then: many small elements (kept to a size one input may take)
      if (!rng.chance(0.3)) return { t: 'raw', text: '[]' };
      const len = rng.pick([1000, 5000, 20_000]);
      const one = rng.pick(['0', '1', '"a"', 'null', '[]', '{}', '1e308']);
      return { t: 'raw', text: `[${new Array(len).fill(one).join(',')}]` };
    }
  }
}

/** One structural mutation of a (copied) tree; returns the new tree. `keys`: the format's field names. */
export function mutateTree(rng: Rng, root: JNode, keys: readonly string[]): JNode {
  const tree = structuredClone(root);
  const nodes = containers(tree);
  if (!nodes.length) return randomValue(rng, keys);
  const node = rng.pick(nodes);
  const children = node.t === 'arr' ? node.items : node.t === 'obj' ? node.entries : [];
  const i = children.length ? rng.int(children.length) : 0;
  const get = (): JNode | undefined => (node.t === 'arr' ? node.items[i] : node.t === 'obj' ? node.entries[i]?.[1] : undefined);
  const set = (v: JNode) => {
    if (node.t === 'arr') node.items[i] = v;
    else if (node.t === 'obj' && node.entries[i]) node.entries[i]![1] = v;
  };
  switch (rng.int(9)) {
    case 0: case 1: set(randomValue(rng, keys)); break; // replace a value
    case 2: children.splice(i, 1); break; // delete
    case 3: // duplicate an element / a key (its second value may differ)
      if (node.t === 'obj' && node.entries[i]) node.entries.splice(i + 1, 0, [node.entries[i]![0], rng.chance(0.5) ? node.entries[i]![1] : randomValue(rng, keys)]);
      else if (node.t === 'arr' && node.items[i]) node.items.splice(i, 0, node.items[i]!);
      break;
    case 4: // add a member
      if (node.t === 'obj') node.entries.splice(i, 0, [rng.pick(keys), randomValue(rng, keys)]);
      else if (node.t === 'arr') node.items.splice(i, 0, randomValue(rng, keys));
      break;
    case 5: // rename a key
      if (node.t === 'obj' && node.entries[i]) node.entries[i]![0] = rng.chance(0.7) ? rng.pick(keys) : randomString(rng);
      break;
    case 6: { // change the type of a value: wrap it, unwrap it, or quote it
      const v = get();
      if (!v) break;
      const w = rng.int(3);
      set(w === 0 ? { t: 'arr', items: [v] } : w === 1 ? { t: 'obj', entries: [[rng.pick(keys), v]] } : { t: 'raw', text: JSON.stringify(toText(v)) });
      break;
    }
    case 7: { // deep nesting around a value
      const v = get();
      if (!v) break;
      const d = rng.pick([10, 500, 993, 5000, 20_000]);
      set({ t: 'raw', text: '['.repeat(d) + toText(v) + ']'.repeat(d) });
      break;
    }
    default: // a number at a boundary
      set({ t: 'raw', text: rng.pick(BOUNDARY_NUMBERS) });
  }
  return tree;
}
