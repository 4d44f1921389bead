// The container's view of /proc (issue 11): /proc/meminfo, cpuinfo, stat
// and loadavg as the container's cgroup makes them, not the host's.
//
// A foreground container (run, a build step) has a tsbuild process for its
// whole life, so a thread of it serves a live FUSE view (crates/native
// procview); its host mount is detached as soon as the container has bound
// the files, so only the container's mount namespace holds it. A detached
// container outlives every tsbuild process, so it gets files written once:
// cpuinfo and stat are right for its whole life (a cpuset does not change),
// meminfo shows the limit but not the usage, loadavg stays the host's.
// /proc/uptime is left alone: the time namespace makes it the container's.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { native } from '../native/index.js';
import { cgroupRoot } from './cgroups.js';
import { writeMeminfo } from './container-fs.js';
import type { ResourceLimits } from './limits.js';

export interface ProcBind {
  source: string;
  target: string;
  readonly: boolean;
  isFile: boolean;
  fstype: undefined;
  data: undefined;
  lowerDirs: undefined;
  upperDir: undefined;
  workDir: undefined;
  copyUp: undefined;
}

export interface ProcView {
  binds: ProcBind[];
  /** Drops the host's copy of the mount; call once the container has started (or failed to). */
  detach(): void;
}

const LIVE_FILES = ['meminfo', 'cpuinfo', 'stat', 'loadavg'] as const;

const none: ProcView = { binds: [], detach: () => {} };

function bind(source: string, name: string): ProcBind {
  return { source, target: `/proc/${name}`, readonly: true, isFile: true, fstype: undefined, data: undefined, lowerDirs: undefined, upperDir: undefined, workDir: undefined, copyUp: undefined };
}

/** The view's mountpoint (live) or snapshot dir (detached) in the container's dir. */
export function procViewDir(containerDir: string): string {
  return join(containerDir, 'proc');
}

/**
 * Sets up the view for a container whose cgroup already exists. Without a
 * cgroup (a build step with no limits) there is nothing to show but the
 * host's figures, which /proc already shows at no cost per step.
 */
export function prepareProcView(containerDir: string, cgroup: string | undefined, limits: ResourceLimits, detached: boolean): ProcView {
  if (cgroup === undefined) return none;
  const dir = procViewDir(containerDir);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  // TSBUILD_PROCVIEW=static: files written once, as for detached containers (the A/B in bench/procview.mjs).
  if (detached || process.env.TSBUILD_PROCVIEW === 'static') return snapshotView(dir, cgroup, limits);
  try {
    native().procviewStart(dir, cgroupRoot(), cgroup);
  } catch {
    // No FUSE here (no /dev/fuse, or a kernel without it): the static view is still right about cpus and the limit.
    return snapshotView(dir, cgroup, limits);
  }
  return { binds: LIVE_FILES.map((f) => bind(join(dir, f), f)), detach: () => native().procviewDetach(dir) };
}

function snapshotView(dir: string, cgroup: string, limits: ResourceLimits): ProcView {
  const binds: ProcBind[] = [];
  for (const f of ['cpuinfo', 'stat'] as const) {
    const path = join(dir, f);
    writeFileSync(path, native().procviewRender(f, cgroupRoot(), cgroup));
    binds.push(bind(path, f));
  }
  if (limits.memory !== undefined) {
    const path = join(dir, 'meminfo');
    writeMeminfo(path, limits.memory);
    binds.push(bind(path, 'meminfo'));
  }
  return { binds, detach: () => {} };
}

/** Before removing a container dir: a tsbuild killed between mount and start leaves the view mounted. */
export function detachLeftoverView(containerDir: string): void {
  native().procviewDetach(procViewDir(containerDir));
}
