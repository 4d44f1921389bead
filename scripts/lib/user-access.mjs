// Lets one unprivileged test user reach (traverse) a directory whose
// ancestors may be private: a CI checkout in `mktemp -d` is mode 0700, so a
// rootless test's user could not even load bin/tsbuild.js from it. Each
// ancestor that others cannot traverse gets a POSIX ACL entry `u:NAME:x`
// (Debian's acl package: scripts/install-deps.sh), removed again afterwards.
// Per-user entries, so two tests with two users running at once never undo
// each other's access, as a chmod o+x and its restore would.
import { execFileSync, spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** Grants `user` traverse rights on every ancestor of `path` that lacks them; returns the undo. */
export function grantTraverse(user, path) {
  const granted = [];
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) {
      execFileSync('setfacl', ['-m', `u:${user}:x`, dir]);
      granted.push(dir);
    }
    if (dir === '/') break;
  }
  return () => {
    for (const dir of granted) spawnSync('setfacl', ['-x', `u:${user}`, dir]);
  };
}
