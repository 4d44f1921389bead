// What a container's process used, measured when it is waited for. Where
// the container has a cgroup (a step or `run` with limits) the cgroup's
// counters are exact: every task that ever ran in it, and the peak of their
// combined memory. Otherwise wait4's rusage, which costs nothing extra:
// PID 1 plus every descendant reaped before it exited. The container's PID 1
// reaps its namespace (orphans reparent to it; at its exit the kernel kills
// and reaps the rest into it), so rusage's CPU covers the whole step. Its
// peak memory, though, is the largest single process's RSS (ru_maxrss is a
// max over the processes, not a sum), so it can under-state a step that
// runs several big processes at once. And PID 1 is a fork of Node: exec
// folds the forked image's peak RSS into ru_maxrss, so the launcher reads
// that (VmHWM, before the child execs) and a peak not above it is reported
// as an upper bound only (peakMemoryAtMostBytes), never as the step's own.
import { native } from '../native/index.js';
import { cgroupRoot } from './cgroups.js';

export interface ProcessUsage {
  userSeconds: number;
  sysSeconds: number;
  /** Peak memory in bytes, when known. */
  peakMemoryBytes?: number;
  /** When the peak is hidden under the forked image's (rusage only): the step's peak is at most this. */
  peakMemoryAtMostBytes?: number;
  /** `cgroup`: the cgroup's counters; `rusage`: wait4 (peak is the largest single process). */
  source: 'cgroup' | 'rusage';
}

/**
 * How far the child's RSS may grow between the launcher's VmHWM read and
 * its exec (setup syscalls fault in stack and copy-on-write pages): about
 * 0.6 MiB measured; a peak within this of the fork's is only an upper bound.
 */
const FORK_GROWTH = 4 << 20;

interface RawUsage { userUs: number; sysUs: number; peakBytes?: number | null }

/** Combines wait4's figures with the cgroup's (read before the cgroup is removed). */
export function chooseUsage(rusage: RawUsage | undefined | null, cgroup: RawUsage | undefined | null, forkRssBytes = 0): ProcessUsage | undefined {
  const secs = (us: number) => us / 1e6;
  if (cgroup) {
    // A cgroup without a memory peak (v2 before Linux 5.19) still has rusage's.
    const peak = cgroup.peakBytes ?? rusage?.peakBytes ?? undefined;
    return { userSeconds: secs(cgroup.userUs), sysSeconds: secs(cgroup.sysUs), ...(peak != null ? { peakMemoryBytes: peak } : {}), source: 'cgroup' };
  }
  if (!rusage) return undefined;
  const peak = rusage.peakBytes ?? undefined;
  const memory = peak === undefined ? {} : peak > forkRssBytes + FORK_GROWTH ? { peakMemoryBytes: peak } : { peakMemoryAtMostBytes: peak };
  return { userSeconds: secs(rusage.userUs), sysSeconds: secs(rusage.sysUs), ...memory, source: 'rusage' };
}

/** The usage of a waited container: its cgroup's when it has one (still present), else the rusage. */
export function measureUsage(rusage: RawUsage | undefined | null, cgroupName: string | undefined, forkRssBytes?: number): ProcessUsage | undefined {
  const cg = cgroupName === undefined ? undefined : native().cgroupUsage(cgroupRoot(), cgroupName);
  return chooseUsage(rusage, cg, forkRssBytes);
}
