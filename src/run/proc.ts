// Process liveness from the host's /proc, robust to pid reuse: a pid only
// counts as ours if its start time matches the one recorded at launch.
import { readFileSync } from 'node:fs';

/** Field 22 of /proc/<pid>/stat (start time in clock ticks), or undefined if the process is gone. */
export function startTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parens: split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state); a zombie has exited already.
    if (rest[0] === 'Z') return undefined;
    return Number(rest[19]);
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number | undefined, recordedStart: number | undefined): boolean {
  if (pid === undefined) return false;
  const st = startTime(pid);
  return st !== undefined && (recordedStart === undefined || st === recordedStart);
}
