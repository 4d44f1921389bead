// Paths and helpers shared by integration tests.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { join, resolve } from 'node:path';

export const repoDir = resolve(import.meta.dirname, '../..');
export const fixturesDir = '/tmp/tsbuild-test-fixtures';
export const busyboxRootfs = join(fixturesDir, 'busybox-rootfs');
export const tsbuildBin = join(repoDir, 'bin/tsbuild.js');

/** Run the real CLI (as a user would) with a given --root. */
export function tsbuild(root: string, args: string[], opts: { input?: string; timeout?: number; env?: NodeJS.ProcessEnv } = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [tsbuildBin, '--root', root, ...args], {
    encoding: 'utf8',
    input: opts.input ?? '',
    timeout: opts.timeout ?? 60_000,
    env: opts.env ?? process.env,
  });
}
