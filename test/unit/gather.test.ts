// The Gatherer joins small chunks into pieces of at least a target size,
// in order, without copying a lone chunk.
import { describe, expect, it } from 'vitest';
import { Gatherer } from '../../src/gather.js';

describe('Gatherer', () => {
  it('hands out a piece once the target is reached, and the rest on take()', () => {
    const g = new Gatherer(5);
    expect(g.add(Buffer.from('ab'))).toBeUndefined();
    expect(g.size).toBe(2);
    expect(g.add(Buffer.from('cdef'))?.toString()).toBe('abcdef');
    expect(g.size).toBe(0);
    expect(g.add(Buffer.from('g'))).toBeUndefined();
    expect(g.take()?.toString()).toBe('g');
    expect(g.take()).toBeUndefined();
  });

  it('passes a chunk at least as large as the target through as is', () => {
    const g = new Gatherer(4);
    const big = Buffer.from('0123456789');
    expect(g.add(big)).toBe(big);
  });
});
