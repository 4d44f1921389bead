// Rootless resource limits: finding the cgroup v2 subtree delegated to this
// user, below which a rootless tsbuild may create its containers' cgroups.
//
// Delegation as the kernel defines it (Documentation/admin-guide/cgroup-v2.rst,
// "Delegation"): a cgroup directory and its cgroup.procs, cgroup.subtree_control
// and cgroup.threads files are chowned to the user; systemd does this for
// user@<uid>.service with Delegate=yes. The no-internal-process rule means a
// cgroup that holds processes cannot enable controllers for children, so the
// user's processes sit in a leaf (systemd's init.scope) and the delegated
// cgroup is that leaf's parent. Moving a process between two cgroups needs
// write access to cgroup.procs of their common ancestor, which is the
// delegated cgroup here.
//
// Kept apart from cgroups.ts so the decision is plain code over a directory
// tree (unit-tested against a temp dir); ownership, not access(2), decides
// "writable by us", so the answer does not change when the tests run as root.
import { existsSync as exists, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ResourceLimits } from './limits.js';

/** A delegated subtree was found: containers' cgroups go below `base` (a cgroupfs path). */
export interface Delegated {
  ok: true;
  base: string;
}

/** No usable delegation, with the one reason that names the file or controller. */
export interface NotDelegated {
  ok: false;
  why: string;
}

export type Delegation = Delegated | NotDelegated;

/** The v2 cgroup path ("/user.slice/...") of a /proc/<pid>/cgroup text, or undefined on pure v1. */
export function ownCgroupPath(procCgroup: string): string | undefined {
  for (const line of procCgroup.split('\n')) {
    if (line.startsWith('0::')) return line.slice(3).trim() || '/';
  }
  return undefined;
}

/** The controllers the limits write to, as cgroup v2 names them. */
export function neededControllers(limits: ResourceLimits): string[] {
  const n: string[] = [];
  if (limits.cpuQuota !== undefined || limits.cpuPeriod !== undefined) n.push('cpu');
  if (limits.memory !== undefined) n.push('memory');
  if (limits.pids !== undefined) n.push('pids');
  if (limits.cpusetCpus !== undefined) n.push('cpuset');
  return n;
}

/** Owned by `uid` with the owner's write bit: what chown-based delegation gives the user. */
function ownedWritable(path: string, uid: number): boolean {
  try {
    const st = statSync(path);
    return st.uid === uid && (st.mode & 0o200) !== 0;
  } catch {
    return false;
  }
}

function words(path: string): string[] {
  try {
    return readFileSync(path, 'utf8').split(/\s+/).filter((w) => w !== '');
  } catch {
    return [];
  }
}

/** The first delegation file of `dir` the user does not own (writable), if any. */
function missingDelegationFile(dir: string, uid: number): string | undefined {
  for (const f of ['', 'cgroup.procs', 'cgroup.subtree_control']) {
    const p = f === '' ? dir : join(dir, f);
    if (!ownedWritable(p, uid)) return p;
  }
  return undefined;
}

/**
 * Decides where a rootless tsbuild's container cgroups go. `fsRoot` is the
 * cgroup2 mount, `own` this process's cgroup path (ownCgroupPath), `uid` the
 * uid the delegated files show as (0 inside the rootless user namespace).
 *
 * The base is the parent of our own cgroup: we sit in its leaf (init), the
 * parent holds no processes (it enables controllers for its children) and is
 * the common ancestor that moving a container's first process requires.
 */
export function findDelegation(fsRoot: string, own: string | undefined, uid: number, needed: readonly string[]): Delegation {
  if (own === undefined) return { ok: false, why: `${fsRoot} is cgroup v1, which cannot be delegated to an unprivileged user` };
  // A v2 mount always has a cgroup.controllers at its root; a hybrid host's /sys/fs/cgroup has none.
  if (!exists(join(fsRoot, 'cgroup.controllers'))) return { ok: false, why: `${fsRoot} is cgroup v1, which cannot be delegated to an unprivileged user` };
  const self = join(fsRoot, own);
  const baseRel = dirname(own);
  if (own === '/' || baseRel === '/') {
    return { ok: false, why: `this process's cgroup ${own} has no delegated parent (start tsbuild in a leaf, e.g. init, of a cgroup delegated to this user, as systemd's Delegate=yes does)` };
  }
  const base = join(fsRoot, baseRel);
  const missing = missingDelegationFile(base, uid);
  if (missing !== undefined) {
    const selfMissing = missingDelegationFile(self, uid);
    const hint = selfMissing === undefined
      ? `; this process's own cgroup ${own} is delegated but holds it, so start tsbuild in a leaf child of it (e.g. ${own}/init)`
      : ' (a systemd user session with Delegate=yes delegates one)';
    return { ok: false, why: `this user has no delegated cgroup v2 subtree: ${missing} is not owned and writable by it${hint}` };
  }
  const available = words(join(base, 'cgroup.controllers'));
  const enabled = words(join(base, 'cgroup.subtree_control'));
  for (const c of needed) {
    if (!available.includes(c)) return { ok: false, why: `the ${c} controller is not delegated: ${join(base, 'cgroup.controllers')} lists only "${available.join(' ')}"` };
    // Enabling it here would fail (EBUSY) if the base held processes: it must already be on for our own leaf.
    if (!enabled.includes(c)) return { ok: false, why: `the ${c} controller is not enabled in ${join(base, 'cgroup.subtree_control')} (it has "${enabled.join(' ')}")` };
  }
  return { ok: true, base };
}

/** findDelegation for this process, from /proc/self/cgroup. */
export function detectDelegation(fsRoot: string, limits: ResourceLimits): Delegation {
  let text = '';
  try {
    text = readFileSync('/proc/self/cgroup', 'utf8');
  } catch {
    // No /proc/self/cgroup: treated as no v2 membership.
  }
  return findDelegation(fsRoot, ownCgroupPath(text), process.getuid?.() ?? -1, neededControllers(limits));
}
