// The store's clean() (run by every openStore) against temp entries of live
// and dead processes: what a running build keeps under tmp/ (RUN scratch,
// COPY and WORKDIR layers, private caches, ADD downloads) must survive a
// concurrent `tsbuild images`, and only a dead writer's leftovers go.
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { makeTempDir } from '../../../src/store/blobs.js';
import { openStore } from '../../../src/store/index.js';

let dir: string;
let root: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsbuild-unit-clean-'));
  root = join(dir, 'root');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A pid that is not running: one past the kernel's default pid_max range is never used. */
const DEAD_PID = 4_194_305;

it('keeps the temp dirs of a live process and removes those of a dead one', async () => {
  await (await openStore(root)).close();
  const tmp = join(root, 'tmp');
  const live = ['run', 'workdir', 'copy', 'cacheprivate', 'bindrw'].map((kind) => makeTempDir(tmp, kind));
  mkdirSync(join(tmp, `tsbuild-add-${process.pid}-abc123`));
  for (const name of [`run-${DEAD_PID}-aa`, `tsbuild-add-${DEAD_PID}-bb`, 'junk-without-pid']) mkdirSync(join(tmp, name));

  await (await openStore(root)).close();

  expect(readdirSync(tmp).sort()).toEqual([...live.map((d) => d.slice(tmp.length + 1)), `tsbuild-add-${process.pid}-abc123`].sort());
});
