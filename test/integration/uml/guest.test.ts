// The guest harness itself: what a script gets back, that the host's files
// stay out of the guest's reach, and that a timed-out guest or one left by
// a killed test run is killed with everything it made on the host.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { repoDir, sleep } from '../fixtures.js';
import { cleanupStaleGuests, GUEST_STORE, runInGuest, startGuest } from './guest.js';

/** Host processes whose command line names `dir` (a guest's UML processes do). */
function processesMentioning(dir: string): string[] {
  return readdirSync('/proc').filter((p) => {
    if (!/^\d+$/.test(p)) return false;
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(dir);
    } catch {
      return false;
    }
  });
}

describe('the user-mode-linux guest', () => {
  it('returns the script output and status, with the store on a tmpfs and a cgroup2 root', async () => {
    const g = await runInGuest(`
      echo "kernel=$(uname -r)"
      echo "fs.store=$(stat -f -c %T "$TSBUILD_STORE")"
      echo "fs.cgroup=$(stat -f -c %T /sys/fs/cgroup)"
      echo "overlay=$(grep -c overlay /proc/filesystems)"
      echo "tsbuild=$(tsbuild images >/dev/null 2>&1; echo $?)"
      printf 'no newline at the end'
      exit 3`);
    expect(g.status, g.console).toBe(3);
    expect(g.output).toContain(`fs.store=tmpfs\n`);
    expect(g.output).toContain('fs.cgroup=cgroup2fs\n');
    expect(g.output).toContain('overlay=1\n');
    expect(g.output).toContain('tsbuild=0\n');
    expect(g.output).toMatch(/^kernel=6\.1\./m);
    expect(g.output.endsWith('no newline at the end')).toBe(true);
    expect(GUEST_STORE.startsWith('/run/')).toBe(true);
    expect(existsSync(g.dir)).toBe(false);
  });

  it('cannot write to the host: its root and the exposed paths are read-only', async () => {
    const probe = `${repoDir}/.uml-write-probe`;
    const g = await runInGuest(`touch ${probe} 2>&1; echo "root=$?"; touch "$(dirname "$0")/x" 2>&1; echo "own-dir=$?"`);
    expect(g.status, g.console).toBe(0);
    expect(g.output).toMatch(/Read-only file system\nroot=1\n/);
    expect(g.output).toMatch(/own-dir=1\n/);
    expect(existsSync(probe)).toBe(false);
  });

  it('kills a guest that outlives its timeout, and removes its dir', async () => {
    const g = await runInGuest('sleep 1000; echo never', { timeoutMs: 8_000 });
    expect(g.timedOut).toBe(true);
    expect(g.status).toBeNull();
    expect(g.output).not.toContain('never');
    expect(existsSync(g.dir)).toBe(false);
    expect(processesMentioning(g.dir)).toEqual([]);
  });

  it('reaps a guest whose test run died (cleanupStaleGuests, as global-setup does)', async () => {
    const guest = startGuest('echo guest-is-up; sleep 1000', { timeoutMs: 240_000 });
    // Wait until the script runs, so that the guest's processes all exist;
    // then pretend its owner died: a pid that has exited.
    for (let i = 0; i < 1200 && !guest.consoleSoFar().includes('guest-is-up'); i++) await sleep(100);
    expect(guest.consoleSoFar()).toContain('guest-is-up');
    const dead = spawnSync('true').pid as number;
    writeFileSync(`${guest.dir}/owner`, String(dead));
    cleanupStaleGuests();
    const r = await guest.done;
    expect(r.timedOut).toBe(false);
    expect(r.status).toBeNull();
    expect(existsSync(guest.dir)).toBe(false);
    expect(processesMentioning(guest.dir)).toEqual([]);
  });

  it('leaves the guests of a live test run alone', async () => {
    const guest = startGuest('echo fine');
    cleanupStaleGuests();
    const r = await guest.done;
    expect(r.status, r.console).toBe(0);
    expect(r.output).toBe('fine\n');
  });
});
