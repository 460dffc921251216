// Generators of what a model writes in its turns: JSON and Python-literal values, ViLaVT `<tool>` / `<answer>`
// turns, DeepEyes `<tool_call>` and Pixel-Reasoner `<tool_call>` bodies, each sometimes perturbed. The fuzzers then
// mutate these as text, so the inputs sit both on the grammar and just off it.
import { BOUNDARY_NUMBERS, randomString } from './mutate.js';
import type { Rng } from './rng.js';

const PY_NUMBERS = ['0', '1', '-1', '0.5', '.5', '5.', '1e5', '1E-5', '1_000', '0x1F', '0o17', '0b101', '0_0', '3j', '1+2j', '1e309',
  '-0.0', '00', '01', '1__0', '0x', '1e', '9' .repeat(4301), '10**400', '2**4096', '7//0', '1/0', '(2**4096)**4096', '-(1)', '~5', '+-+1'];

const PY_STRINGS = ["'a'", '"b"', "r'\\d'", "b'x'", "u'y'", "'''t'''", '"""q"""', "'\\x41'", "'\\u00e9'", "'\\N{BULLET}'", "'\\'", "'a' 'b'",
  "f'{1}'", "'\\\n'", "'unterminated", '"\\ud800"'];

/** A JSON value (mostly valid): what `<tool>` bodies and Pixel-Reasoner calls hold. */
export function jsonValue(rng: Rng, keys: readonly string[], depth = 0): string {
  const r = rng.int(depth > 3 ? 5 : 8);
  switch (r) {
    case 0: return rng.pick(['null', 'true', 'false', 'NaN', 'Infinity', '-Infinity']);
    case 1: case 2: return rng.chance(0.7) ? String(rng.int(2000) - 100) : rng.pick(BOUNDARY_NUMBERS);
    case 3: return JSON.stringify(rng.chance(0.5) ? rng.pick(keys) : randomString(rng));
    case 4: return `${rng.int(1000) / 10}`;
    case 5: return `[${Array.from({ length: rng.skewed(6) }, () => jsonValue(rng, keys, depth + 1)).join(', ')}]`;
    default: return `{${Array.from({ length: rng.skewed(5) }, () => `${JSON.stringify(rng.pick(keys))}: ${jsonValue(rng, keys, depth + 1)}`).join(', ')}}`;
  }
}

/** A Python expression of literals (ast.literal_eval's subset and a little beyond: arithmetic, names, calls). */
export function pyValue(rng: Rng, keys: readonly string[], depth = 0): string {
  const r = rng.int(depth > 3 ? 6 : 11);
  switch (r) {
    case 0: return rng.pick(['None', 'True', 'False', 'null', 'true', 'nan', 'inf', 'float("nan")', 'x', 'print(1)', '__import__("os")']);
    case 1: case 2: return rng.pick(PY_NUMBERS);
    case 3: return String(rng.int(2000) - 100);
    case 4: return rng.chance(0.5) ? rng.pick(PY_STRINGS) : `'${rng.pick(keys)}'`;
    case 5: return `${rng.int(1000) / 10}`;
    case 6: return `[${Array.from({ length: rng.skewed(6) }, () => pyValue(rng, keys, depth + 1)).join(', ')}]`;
    case 7: return `(${Array.from({ length: rng.skewed(5) }, () => pyValue(rng, keys, depth + 1)).join(', ')}${rng.chance(0.3) ? ',' : ''})`;
    case 8: return `{${Array.from({ length: rng.skewed(5) }, () => `${rng.chance(0.8) ? `'${rng.pick(keys)}'` : pyValue(rng, keys, depth + 1)}: ${pyValue(rng, keys, depth + 1)}`).join(', ')}}`;
    case 9: return `${pyValue(rng, keys, depth + 1)} ${rng.pick(['+', '-', '*', '/', '//', '%', '**', '<', 'and', 'if'])} ${pyValue(rng, keys, depth + 1)}`;
    default: return `{${Array.from({ length: rng.skewed(4) }, () => pyValue(rng, keys, depth + 1)).join(', ')}}`; // a set
  }
}

/** A bbox: mostly plausible for an image of w×h, sometimes anything. */
export function bbox(rng: Rng, w: number, h: number, py = false): string {
  if (rng.chance(0.2)) return py ? pyValue(rng, ['bbox_2d']) : jsonValue(rng, ['bbox_2d']);
  const x1 = rng.int(w);
  const y1 = rng.int(h);
  const coords = [x1, y1, x1 + rng.int(w - x1 + 2), y1 + rng.int(h - y1 + 2)].map((v) => (rng.chance(0.2) ? (v / w).toFixed(3) : String(v)));
  if (rng.chance(0.1)) coords.push('0');
  if (rng.chance(0.1)) coords.pop();
  return py && rng.chance(0.3) ? `(${coords.join(', ')})` : `[${coords.join(', ')}]`;
}

export function thinking(rng: Rng): string {
  return rng.chance(0.6) ? `<think>${randomString(rng, 60)}</think>\n` : randomString(rng, 20);
}
