// The per-container cgroup, named tsbuild/<id> on whichever cgroup version
// the host runs. The native writers do the work; this module only knows the
// naming and where cgroupfs lives: the host's, or in rootless mode the
// subtree delegated to the user (cgroup-delegation.ts).
import { sha256Hex } from '../sha256.js';
import { join } from 'node:path';
import { native } from '../native/index.js';
import { inUserNamespace } from '../store/privilege.js';
import { TsbuildError } from '../errors.js';
import { detectDelegation } from './cgroup-delegation.js';
import type { ResourceLimits } from './limits.js';

export const CGROUP_ROOT = process.env.TSBUILD_CGROUP_ROOT ?? '/sys/fs/cgroup';

/**
 * `tsbuild/<store tag>-<id>`: the store tag keeps two stores on one host
 * (two --root dirs, e.g. parallel CI jobs) from reaping each other's cgroups.
 */
export function cgroupName(root: string, containerId: string): string {
  return `tsbuild/${storeTag(root)}-${containerId.slice(0, 24)}`;
}

export function storeTag(root: string): string {
  return sha256Hex(root).slice(0, 8);
}

/**
 * Rootless mode (tsbuild runs in a user namespace): the host's cgroupfs
 * belongs to real root, so containers get a cgroup only when they have limits
 * and the user has a delegated v2 subtree.
 */
export function rootlessCgroups(): boolean {
  return inUserNamespace() && process.env.TSBUILD_CGROUP_ROOT === undefined;
}

/** The limit flags `limits` came from, in docker's spelling, for the message. */
function limitFlags(limits: ResourceLimits): string[] {
  const flags: string[] = [];
  if (limits.memory !== undefined) flags.push('--memory');
  if (limits.cpuQuota !== undefined || limits.cpuPeriod !== undefined) flags.push('--cpus');
  if (limits.pids !== undefined) flags.push('--pids-limit');
  if (limits.cpusetCpus !== undefined) flags.push('--cpuset-cpus');
  return flags;
}

let delegatedRoot: string | undefined;

/**
 * Where container cgroups live: the host's cgroupfs, or for rootless mode the
 * user's delegated subtree. Decided from where this process sits, so `rm`,
 * `exec` and the reaper (other processes of the same user) find the same base.
 */
export function cgroupRoot(): string {
  if (!rootlessCgroups()) return CGROUP_ROOT;
  if (delegatedRoot === undefined) {
    const d = detectDelegation(CGROUP_ROOT, {});
    delegatedRoot = d.ok ? d.base : CGROUP_ROOT;
  }
  return delegatedRoot;
}

/**
 * A limit flag in rootless mode works below a cgroup v2 subtree delegated to
 * the user (systemd's user@.service Delegate=yes, or one chowned by hand);
 * without one it is one line that names the missing file or controller.
 */
export function refuseRootlessLimits(limits: ResourceLimits): void {
  const flags = limitFlags(limits);
  if (flags.length === 0) return;
  const d = detectDelegation(CGROUP_ROOT, limits);
  if (d.ok) {
    delegatedRoot = d.base;
    return;
  }
  throw new TsbuildError('E_ROOTLESS_LIMITS', `rootless: ${flags.join(', ')} needs a cgroup: ${d.why}; run without limits, or as root`, { exitCode: 125 });
}

/** Creates the cgroup and returns the cgroup.procs files the process must join. */
export function createCgroup(name: string, limits: ResourceLimits): string[] {
  try {
    const info = native().cgroupCreate(cgroupRoot(), name, {
      cpuPeriod: limits.cpuPeriod,
      cpuQuota: limits.cpuQuota,
      memory: limits.memory,
      pids: limits.pids,
      cpusetCpus: limits.cpusetCpus,
    });
    return info.procsFiles;
  } catch (err) {
    throw new TsbuildError('E_CGROUP', `cannot create cgroup ${name}: ${(err as Error).message}`, { exitCode: 125 });
  }
}

export function removeCgroup(name: string): void {
  native().cgroupRemove(cgroupRoot(), name);
}

export function oomKilled(name: string): boolean {
  return native().cgroupOomKills(cgroupRoot(), name) > 0;
}

/** The cgroup.procs files of an existing container cgroup (for exec). */
export function cgroupProcsFiles(name: string): string[] {
  return native().cgroupCreate(cgroupRoot(), name, {}).procsFiles;
}
