// The per-container cgroup, named tsbuild/<id> on whichever cgroup version
// the host runs. The native writers do the work; this module only knows the
// naming and where cgroupfs lives.
import { createHash } from 'node:crypto';
import { native } from '../native/index.js';
import { TsbuildError } from '../errors.js';
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
  return createHash('sha256').update(root).digest('hex').slice(0, 8);
}

/** Creates the cgroup and returns the cgroup.procs files the process must join. */
export function createCgroup(name: string, limits: ResourceLimits): string[] {
  try {
    const info = native().cgroupCreate(CGROUP_ROOT, name, {
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
  native().cgroupRemove(CGROUP_ROOT, name);
}

export function oomKilled(name: string): boolean {
  return native().cgroupOomKills(CGROUP_ROOT, name) > 0;
}

/** The cgroup.procs files of an existing container cgroup (for exec). */
export function cgroupProcsFiles(name: string): string[] {
  return native().cgroupCreate(CGROUP_ROOT, name, {}).procsFiles;
}
