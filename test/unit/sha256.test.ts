// src/sha256.ts against node:crypto (the oracle): the JS path for small
// inputs and the hand-over to node:crypto past 64 KiB must give the same
// digests, for every padding edge (55, 56, 63, 64, 119, 120 bytes),
// UTF-8 strings, and updates split anywhere.
import { createHash, randomBytes } from 'node:crypto';
import { beforeEach, expect, it } from 'vitest';
import { jsHashing, Sha256, sha256Hex } from '../../src/sha256.js';

const oracle = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');

beforeEach(() => jsHashing.reset());

it('hands over to node:crypto once 256 KiB were hashed in JS, with the same digests', () => {
  const pieces = Array.from({ length: 80 }, (_, i) => randomBytes(4000 + i));
  for (const p of pieces) expect(sha256Hex(p)).toBe(oracle(p));
  const used = jsHashing.bytes;
  expect(used).toBeGreaterThan(256 * 1024);
  expect(used).toBeLessThan(256 * 1024 + 5000); // nothing counted after the budget ran out
  const h = new Sha256().update(pieces[0] as Buffer).update('x');
  expect(h.digest('hex')).toBe(oracle(Buffer.concat([pieces[0] as Buffer, Buffer.from('x')])));
  expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  expect(jsHashing.bytes).toBe(used);
});

it('matches node:crypto at every padding edge and across the 64 KiB hand-over', () => {
  const sizes = [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 1000, 65535, 65536, 65537, 200_000];
  for (const n of sizes) {
    const data = randomBytes(n);
    expect(sha256Hex(data), `${n} bytes`).toBe(oracle(data));
  }
  expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});

it('hashes strings as UTF-8', () => {
  for (const s of ['héllo wörld', '日本語のテキスト', '😀 emoji', JSON.stringify({ key: ['ä', 1, null] }), 'x'.repeat(70_000) + 'é']) {
    expect(sha256Hex(s)).toBe(oracle(s));
  }
});

it('gives the same digest however the input is split, below and past 64 KiB', () => {
  for (const total of [10, 5000, 64 * 1024, 64 * 1024 + 1, 150_000]) {
    const data = randomBytes(total);
    const h = new Sha256();
    let at = 0;
    let step = 1;
    while (at < total) {
      const end = Math.min(total, at + step);
      // Strings and bytes mixed: a latin1 string would not round-trip, so bytes for the odd pieces.
      h.update(data.subarray(at, end));
      at = end;
      step = step * 3 + 1;
    }
    h.update('tail ✓');
    expect(h.digest('hex'), `${total} bytes`).toBe(oracle(Buffer.concat([data, Buffer.from('tail ✓')])));
  }
});
