// The store's tmp/ and containers/ carry ext4's FS_TOPDIR_FL (chattr +T), so
// that each unpacked layer and each container starts in a block group of its
// own (crates/native/src/topdir.rs says why). Checked with e2fsprogs' lsattr
// where the temp dir is ext4, and as "no flag, no error" elsewhere.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { markTopDir } from '../../../src/native/index.js';
import { writeState, type ContainerState } from '../../../src/run/state.js';
import { openStore } from '../../../src/store/index.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsbuild-unit-topdir-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const isExt4 = (path: string): boolean => execFileSync('stat', ['-f', '-c', '%T', path], { encoding: 'utf8' }).trim() === 'ext2/ext3';
/** lsattr's flag letters of a directory itself. */
const attrs = (path: string): string => execFileSync('lsattr', ['-d', path], { encoding: 'utf8' }).split(' ')[0] ?? '';

it('marks tmp/ when the store opens, and an old store on its next open', async () => {
  const root = join(dir, 'root');
  await (await openStore(root)).close();
  expect(attrs(join(root, 'tmp')).includes('T')).toBe(isExt4(dir));
  // A store made before the mark: cleared by hand, set again by the next open.
  if (isExt4(dir)) execFileSync('chattr', ['-T', join(root, 'tmp')]);
  expect(attrs(join(root, 'tmp'))).not.toContain('T');
  await (await openStore(root)).close();
  expect(attrs(join(root, 'tmp')).includes('T')).toBe(isExt4(dir));
});

it('marks containers/ when the first container record is written', () => {
  const root = join(dir, 'root');
  writeState(root, { id: 'a'.repeat(64), name: 'x', createdAt: new Date(0).toISOString(), status: 'created' } as unknown as ContainerState);
  expect(attrs(join(root, 'containers')).includes('T')).toBe(isExt4(dir));
  expect(attrs(join(root, 'containers', 'a'.repeat(64)))).not.toContain('T');
});

it('reports whether the flag was kept, and refuses nothing: a missing dir is false', () => {
  expect(markTopDir(dir)).toBe(isExt4(dir));
  expect(markTopDir(join(dir, 'missing'))).toBe(false);
});
