// A view made `over` a cached one (one layer at a time, as a build stacks
// its steps) must answer exactly as a view of the whole stack at once, and
// must not probe the layers below again: that is what keeps a build step's
// lookups O(1) in the depth of its image.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LayerView } from '../../../src/image/layer-view.js';
import { stackView } from '../../../src/image/stack-view.js';
// @ts-expect-error: a plain .mjs module shared with the benchmarks
import { prng as rng } from '../../../scripts/lib/prng.mjs';
import { cleanupTemp, tempDir, tree } from '../../shared/copy-steps.js';

afterEach(cleanupTemp);

const NAMES = ['a', 'b', 'c'];
const PATHS = ['/a', '/b', '/a/b', '/a/c', '/b/a', '/a/b/c', '/c/a/b', '/a/a/a'];

/** Random layers of small dirs, files that hide dirs, and links; opacity from a seeded table. */
function randomStack(seed: number, depth: number): { layers: string[]; opaque: Set<string> } {
  const next = (rng as (seed: number) => () => number)(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T;
  const layers: string[] = [];
  const opaque = new Set<string>();
  for (let i = 0; i < depth; i++) {
    const spec: Record<string, string | null> = {};
    for (let k = 0; k < 3; k++) {
      const path = Array.from({ length: 1 + Math.floor(next() * 3) }, () => pick(NAMES)).join('/');
      const kind = next();
      if (kind < 0.5) spec[`${path}/`] = null;
      else if (kind < 0.8) spec[path] = `l${i}`;
      else spec[`${path} -> /${pick(NAMES)}`] = null;
    }
    const dir = tempDir('tsb-stack-');
    try {
      tree(dir, spec);
    } catch { /* a spec whose file is also a parent dir: keep what was made */ }
    layers.push(dir);
    if (next() < 0.3) opaque.add(`${dir}:${pick(NAMES)}`);
  }
  return { layers, opaque };
}

function describeView(v: LayerView): string[] {
  return PATHS.map((p) => {
    const e = v.entry(p);
    return `${p} ${e ? `${e.layer}:${e.stat.isDirectory() ? 'd' : e.stat.isSymbolicLink() ? 'l' : 'f'}` : '-'} [${v.readdir(p).join(',')}] [${v.mergedDirs(p).length}]`;
  });
}

describe('LayerView.over', () => {
  it('answers as the flat view of the same stack (50 seeded stacks)', { timeout: 60_000 }, () => {
    for (let seed = 1; seed <= 50; seed++) {
      const { layers, opaque } = randomStack(seed, 6);
      const probe = (dir: string, rel: string) => opaque.has(`${dir}:${rel}`);
      const flat = new LayerView(layers, { opaque: probe });
      let stacked = new LayerView(layers.slice(0, 1), { opaque: probe });
      for (const dir of layers.slice(1)) {
        describeView(stacked); // the lower views answer first, as earlier build steps would have
        stacked = LayerView.over(stacked, dir);
      }
      expect(describeView(stacked), `seed ${seed}`).toEqual(describeView(flat));
      cleanupTemp();
    }
  });

  it('looks up only the new top layer of the next step, never the cached ones again', () => {
    const base = tree(tempDir(), { 'etc/passwd': 'root:x:0:0::/root:/bin/sh\n' });
    const middle = Array.from({ length: 50 }, (_, i) => tree(tempDir(), { [`f${i}`]: '' }));
    const layers = [base, ...middle];
    expect(stackView(layers).readFile('/etc/passwd')).toContain('root');
    // Image layers never change; if one did, only a view that probed it again could tell.
    tree(middle[20] as string, { 'etc/passwd': 'changed' });
    const top = tree(tempDir(), { g: '' });
    const next = stackView([...layers, top]);
    expect(next.layerDirs).toHaveLength(52);
    expect(next.readFile('/etc/passwd')).toContain('root');
    // The new top layer itself is looked at.
    writeFileSync(join(top, 'h'), '');
    expect(next.lstat('/h')?.isFile()).toBe(true);
  });

  it('never caches a container\'s own layers', () => {
    const base = tree(tempDir(), { 'srv/': null });
    const own = tempDir();
    expect(stackView([base], [own]).lstat('/srv/x')).toBeUndefined();
    tree(own, { 'srv/x': 'new' });
    expect(stackView([base], [own]).lstat('/srv/x')?.isFile()).toBe(true);
  });
});
