// Which directory a RUN cache mount gets, and when a from= cache is seeded:
// once per (id, source content), as BuildKit's mount manager does, never
// again once it exists, and never for a cache without from=.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cacheDir, type CacheRequest } from '../../../../src/build/executor/cache-mount.js';
import { parseMount } from '../../../../src/build/instructions/mount.js';

let root: string;
beforeEach(() => { root = mkdtempSync(join(tmpdir(), 'tsbuild-unit-cache-')); });
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** A request whose seed writes `content` to seed.txt and counts its calls. */
function request(fromLayers: string[] | null, content = 'seed'): CacheRequest & { seeds: number } {
  const req = {
    root, fromLayers, owner: null, seeds: 0,
    async seed(dest: string) { req.seeds++; writeFileSync(join(dest, 'seed.txt'), content); },
  };
  return req;
}

const held = () => ({ locks: [], temps: [] });

describe('cache mount directories', () => {
  it('seeds a from= cache when it is new, and reuses it (with what steps wrote) afterwards', async () => {
    const m = parseMount('type=cache,target=/c,from=src,source=/out', null);
    const first = request(['/layers/a', '/layers/b']);
    const dir = await cacheDir(m, '/c', first, held());
    expect(first.seeds).toBe(1);
    expect(readFileSync(join(dir, 'seed.txt'), 'utf8')).toBe('seed');
    writeFileSync(join(dir, 'written'), 'by a step');

    const again = request(['/layers/a', '/layers/b'], 'other');
    expect(await cacheDir(m, '/c', again, held())).toBe(dir);
    expect(again.seeds).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['seed.txt', 'written']);
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
  });

  it('keys a seeded cache by its source content and source=, apart from the plain cache of the id', async () => {
    const at = async (spec: string, layers: string[] | null) => cacheDir(parseMount(spec, null), '/c', request(layers), held());
    const seeded = await at('type=cache,id=x,target=/c,from=src', ['/layers/a']);
    expect(await at('type=cache,id=x,target=/c,from=src', ['/layers/a2'])).not.toBe(seeded);
    expect(await at('type=cache,id=x,target=/c,from=src,source=/sub', ['/layers/a'])).not.toBe(seeded);
    const plain = await at('type=cache,id=x,target=/c', null);
    expect(plain).not.toBe(seeded);
    expect(readdirSync(plain)).toEqual([]);
  });

  it('never seeds a cache without from=, and keeps its directory name (caches made before stay valid)', async () => {
    const req = request(null);
    const dir = await cacheDir(parseMount('type=cache,target=/root/.cache', null), '/root/.cache', req, held());
    expect(req.seeds).toBe(0);
    // sha256("/root/.cache"), the name tsbuild has always used for this cache.
    expect(dir).toBe(join(root, 'cache', 'mounts', 'ebc372a1c9f0ee32803d1ef5dc06a690'));
  });

  it('leaves no half-made cache when the seed fails', async () => {
    const m = parseMount('type=cache,target=/c,from=src', null);
    const req = { ...request(['/l']), async seed() { throw new Error('boom'); } };
    await expect(cacheDir(m, '/c', req, held())).rejects.toThrow('boom');
    expect(readdirSync(join(root, 'cache', 'mounts'))).toEqual([]);
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
  });
});
