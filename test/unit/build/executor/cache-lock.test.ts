// BuildCache.lock: steps of parallel stages whose keys share a lock file
// (the first two hex digits) do not wait for each other in one process,
// while the same key is still one holder at a time, and another process
// (flock) still waits for the prefix.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { BuildCache } from '../../../../src/build/executor/cache.js';

let root: string;
beforeEach(() => { root = mkdtempSync(join(tmpdir(), 'tsbuild-unit-cachelock-')); });
afterEach(() => rmSync(root, { recursive: true, force: true }));

const key = (prefix: string, fill: string) => `${prefix}${fill.repeat(62)}`;

it('lets two keys of one prefix be held at once, and queues the same key', async () => {
  const cache = new BuildCache(root);
  const a = await cache.lock(key('ab', '1'));
  const b = await cache.lock(key('ab', '2')); // would deadlock if it waited for a
  const order: string[] = [];
  const again = cache.lock(key('ab', '1')).then((release) => { order.push('second holder of key 1'); return release; });
  await new Promise((r) => setTimeout(r, 20));
  order.push('first holder releases');
  a();
  (await again)();
  b();
  expect(order).toEqual(['first holder releases', 'second holder of key 1']);
});

it('keeps another process out of the prefix until the last key under it is released', async () => {
  const cache = new BuildCache(root);
  const a = await cache.lock(key('cd', '1'));
  const b = await cache.lock(key('cd', '2'));
  const file = join(root, 'locks', 'steps', 'cd');
  // flock(1) -n from util-linux: fails at once while this process holds the file.
  const tryLock = () => spawnSync('flock', ['-n', '-x', file, 'true']).status;
  expect(tryLock()).not.toBe(0);
  a();
  expect(tryLock()).not.toBe(0);
  b();
  expect(tryLock()).toBe(0);
});
