// A real unprivileged user for rootless tests: made by `useradd -m` with a
// subordinate uid/gid range of its own (usermod --add-subuids), removed with
// its home and ranges afterwards. The CLI runs as that user through
// `runuser -u USER --`, as a CI agent's shell would run it.
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { chownSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoDir, tsbuildBin } from '../fixtures.js';
import { createSubidUser } from '../../../scripts/lib/subid-user.mjs';

export interface TestUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  /** First subordinate id and how many. */
  subStart: number;
  subCount: number;
  /** The CLI as this user, with its default store (~/.local/share/tsbuild). */
  tsbuild(args: string[], opts?: { input?: string; timeout?: number; cwd?: string }): SpawnSyncReturns<string>;
  /** Any command as this user. */
  run(cmd: string, args: string[], opts?: { cwd?: string; timeout?: number; env?: Record<string, string> }): SpawnSyncReturns<string>;
  spawn(cmd: string, args: string[]): ChildProcess;
  remove(): void;
}

/** Creates the user; a range in 2–4 G keeps clear of useradd's own 100000+ ranges. */
export function createTestUser(prefix = 'tsrl'): TestUser {
  const name = `${prefix}${process.pid % 100000}${randomInt(1000)}`;
  const subCount = 65536;
  const subStart = 2_000_000_000 + randomInt(30_000) * subCount;
  const made = createSubidUser(name, { subStart, subCount, reach: repoDir });
  const { uid, gid, home } = made;
  // A login session's runtime dir (as pam_systemd makes /run/user/UID), inside the home so it goes with it:
  // without one, rootless buildah puts its runtime dirs in /tmp and /var/tmp.
  const runtimeDir = join(home, '.run');
  mkdirSync(runtimeDir, { mode: 0o700 });
  chownSync(runtimeDir, uid, gid);
  const env = { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', HOME: home, USER: name, LANG: 'C.UTF-8', XDG_RUNTIME_DIR: runtimeDir };
  const asUser = (cmd: string, args: string[], extra: Record<string, string> = {}) => ['-u', name, '--', 'env', '-i', ...Object.entries({ ...env, ...extra }).map(([k, v]) => `${k}=${v}`), cmd, ...args];
  const user: TestUser = {
    name, uid, gid, home, subStart, subCount,
    tsbuild: (args, opts = {}) => user.run(process.execPath, [tsbuildBin, ...args], opts),
    run: (cmd, args, opts = {}) => spawnSync('runuser', asUser(cmd, args, opts.env), { encoding: 'utf8', input: '', cwd: opts.cwd ?? home, timeout: opts.timeout ?? 120_000 }),
    spawn: (cmd, args) => spawn('runuser', asUser(cmd, args), { cwd: home, stdio: ['ignore', 'pipe', 'pipe'] }),
    // Its processes (every one started by the test), access, ranges, home.
    remove: () => made.remove(),
  };
  return user;
}
