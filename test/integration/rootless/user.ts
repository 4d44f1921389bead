// A real unprivileged user for rootless tests: made by `useradd -m` with a
// subordinate uid/gid range of its own (usermod --add-subuids), removed with
// its home and ranges afterwards. The CLI runs as that user through
// `runuser -u USER --`, as a CI agent's shell would run it.
import { execFileSync, spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { chownSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoDir, tsbuildBin } from '../fixtures.js';
import { grantTraverse } from '../../../scripts/lib/user-access.mjs';

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
  execFileSync('useradd', ['-m', '-s', '/bin/sh', '-K', 'SUB_UID_COUNT=0', '-K', 'SUB_GID_COUNT=0', name]);
  const range = `${subStart}-${subStart + subCount - 1}`;
  execFileSync('usermod', ['--add-subuids', range, '--add-subgids', range, name]);
  // The checkout may sit in a private dir (CI clones into `mktemp -d`, mode 0700).
  const revokeAccess = grantTraverse(name, repoDir);
  const [, , uid, gid, , home] = (readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${name}:`)) as string).split(':');
  // A login session's runtime dir (as pam_systemd makes /run/user/UID), inside the home so it goes with it:
  // without one, rootless buildah puts its runtime dirs in /tmp and /var/tmp.
  const runtimeDir = join(home as string, '.run');
  mkdirSync(runtimeDir, { mode: 0o700 });
  chownSync(runtimeDir, Number(uid), Number(gid));
  const env = { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', HOME: home as string, USER: name, LANG: 'C.UTF-8', XDG_RUNTIME_DIR: runtimeDir };
  const asUser = (cmd: string, args: string[], extra: Record<string, string> = {}) => ['-u', name, '--', 'env', '-i', ...Object.entries({ ...env, ...extra }).map(([k, v]) => `${k}=${v}`), cmd, ...args];
  const user: TestUser = {
    name, uid: Number(uid), gid: Number(gid), home: home as string, subStart, subCount,
    tsbuild: (args, opts = {}) => user.run(process.execPath, [tsbuildBin, ...args], opts),
    run: (cmd, args, opts = {}) => spawnSync('runuser', asUser(cmd, args, opts.env), { encoding: 'utf8', input: '', cwd: opts.cwd ?? (home as string), timeout: opts.timeout ?? 120_000 }),
    spawn: (cmd, args) => spawn('runuser', asUser(cmd, args), { cwd: home as string, stdio: ['ignore', 'pipe', 'pipe'] }),
    remove: () => {
      // This user's processes, by pid: every one of them was started by the test.
      const pids = spawnSync('ps', ['-u', name, '-o', 'pid='], { encoding: 'utf8' }).stdout.split('\n').map((l) => Number(l.trim())).filter((n) => n > 0);
      for (const pid of pids) {
        try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
      }
      revokeAccess();
      spawnSync('usermod', ['--del-subuids', range, '--del-subgids', range, name]);
      spawnSync('userdel', ['-r', '-f', name]);
    },
  };
  return user;
}
