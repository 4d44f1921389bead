// A real unprivileged user with a subordinate uid/gid range of its own, as
// the rootless tests and the rootless bench need one: `useradd -m` (without
// useradd's automatic ranges), `usermod --add-subuids/--add-subgids`, traverse
// rights on the checkout's private ancestors (user-access.mjs), and the
// undo of all of it. One maker, so the test and the bench cannot drift apart.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { grantTraverse } from './user-access.mjs';

/**
 * Creates user `name` with subordinate ids subStart..subStart+subCount-1
 * (pick them clear of useradd's own 100000+ ranges) and access to `reach`
 * (a file or dir the user must open, e.g. bin/tsbuild.js or the checkout).
 * Returns {name, uid, gid, home, subStart, subCount, remove()}.
 */
export function createSubidUser(name, { subStart, subCount = 65536, reach }) {
  execFileSync('useradd', ['-m', '-s', '/bin/sh', '-K', 'SUB_UID_COUNT=0', '-K', 'SUB_GID_COUNT=0', name]);
  const range = `${subStart}-${subStart + subCount - 1}`;
  execFileSync('usermod', ['--add-subuids', range, '--add-subgids', range, name]);
  // The checkout may sit in a private dir (CI clones into `mktemp -d`, mode 0700).
  const revokeAccess = reach ? grantTraverse(name, reach) : () => {};
  const [, , uid, gid, , home] = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${name}:`)).split(':');
  return {
    name, uid: Number(uid), gid: Number(gid), home, subStart, subCount,
    remove() {
      revokeAccess();
      spawnSync('usermod', ['--del-subuids', range, '--del-subgids', range, name]);
      removeUser(name);
    },
  };
}

/** Kills every process of `name` (all started by the caller) and deletes the user with its home. */
export function removeUser(name) {
  const pids = spawnSync('ps', ['-u', name, '-o', 'pid='], { encoding: 'utf8' }).stdout.split('\n').map((l) => Number(l.trim())).filter((n) => n > 0);
  for (const pid of pids) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
  }
  spawnSync('userdel', ['-r', '-f', name]);
}
