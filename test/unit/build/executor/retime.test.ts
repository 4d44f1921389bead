// The retime rule (src/build/executor/retime.ts): a layer clamped to epoch
// E1 and retimed to E2 holds what a fresh build under E2 holds, for every
// file whose retime key time (copy/digest.ts) is the same under both.
import { describe, expect, it } from 'vitest';
import { retimeMtime } from '../../../../src/build/executor/retime.js';
import { retimeKeyTime } from '../../../../src/build/copy/digest.js';

const clamp = (m: number, e: number) => Math.min(m, e);

describe('retimeMtime', () => {
  it('turns the old epoch into the new one and clamps the rest', () => {
    expect(retimeMtime(1000, 1000, 2000)).toBe(2000); // written by the step under E1
    expect(retimeMtime(500, 1000, 2000)).toBe(500); // older content keeps its time
    expect(retimeMtime(1000, 1000, 700)).toBe(700); // to an older epoch
    expect(retimeMtime(800, 1000, 700)).toBe(700); // older than E1, newer than E2: clamped
    expect(retimeMtime(600, 1000, 700)).toBe(600);
  });

  it('gives what a fresh build gives, whenever the retime key time matches', () => {
    const times = [0, 1, 499, 500, 501, 999, 1000, 1001, 1500, 1999, 2000, 2001, 5000];
    for (const e1 of [500, 1000, 2000]) {
      for (const e2 of [500, 1000, 2000]) {
        for (const real of times) {
          if (retimeKeyTime(real, e1) !== retimeKeyTime(real, e2)) continue;
          expect(retimeMtime(clamp(real, e1), e1, e2), `real ${real}, ${e1} → ${e2}`).toBe(clamp(real, e2));
        }
      }
    }
  });

  it('keys a file at or after both epochs symbolically, an older one by its time', () => {
    expect(retimeKeyTime(3000, 1000)).toBe('epoch');
    expect(retimeKeyTime(1000, 1000)).toBe('epoch');
    expect(retimeKeyTime(3000, 2000)).toBe('epoch');
    expect(retimeKeyTime(999, 1000)).toBe(999);
    // Older than one epoch but not the other: the keys differ, so the step is not retimed.
    expect(retimeKeyTime(1500, 1000)).not.toBe(retimeKeyTime(1500, 2000));
  });

  it('has one edge: a time of exactly the old epoch, written by the step itself', () => {
    // A RUN that sets a file to E1 itself: the entry holds E1 and retimes to E2; a fresh build under E2 keeps E1.
    expect(retimeMtime(1000, 1000, 2000)).toBe(2000);
  });
});
