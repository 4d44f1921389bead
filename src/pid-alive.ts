// Whether a process still exists, for the owners recorded in lock, temp and
// partial-download files: a file whose owner is gone was left by a crash.
// A shared leaf (no imports), used from the store up to the build.

/** True while process `pid` exists (EPERM: it exists but is not ours to signal). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
