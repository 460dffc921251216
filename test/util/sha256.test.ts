// The incremental SHA-256 against node:crypto on random data split at random chunk boundaries (every padding case:
// lengths around the 55/56/64-byte block edges), plus the FIPS 180-4 "abc" vector.
import { createHash } from 'node:crypto';
import { expect, test } from 'vitest';
import { Sha256 } from '../../src/util/sha256.js';
import { rng } from '../helpers/random.js';

test('matches node:crypto for any length and chunking', () => {
  expect(new Sha256().update(new TextEncoder().encode('abc')).hex()).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  const next = rng(91);
  const lengths = [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 70001];
  for (const n of lengths) {
    const data = Uint8Array.from({ length: n }, () => Math.floor(next() * 256));
    const h = new Sha256();
    for (let at = 0; at < n;) {
      const len = Math.min(n - at, 1 + Math.floor(next() * 150));
      h.update(data.subarray(at, at + len));
      at += len;
    }
    expect(h.hex(), `length ${n}`).toBe(createHash('sha256').update(data).digest('hex'));
  }
});
