// Tearing down what a test or benchmark run started under one directory:
// the processes whose command line names it (daemons, containerd, shims,
// registries) or that it recorded in DIR/pids, and the mounts at or under
// it. Shared by the benchmarks' workspace and the integration tests'
// private dockerd, so a run killed with -9 is cleaned up the same way by
// the next one. Test-side only: the product never shells out to umount.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

export function cmdline(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/** Pids of live processes whose command line mentions `dir` (daemons, shims, registries we started there). */
export function processesUnder(dir) {
  const pids = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    if (cmdline(pid).includes(`${dir}/`)) pids.push(pid);
  }
  return pids;
}

/** Mount points at or under `dir`, deepest first (from /proc/self/mountinfo, octal escapes decoded). */
export function mountsUnder(dir) {
  const decode = (s) => s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean)
    .map((l) => decode(l.split(' ')[4]))
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/** Lazily unmounts everything under `dir` (repeats while something is left: stacked mounts). */
export function unmountUnder(dir) {
  for (let i = 0; i < 5; i++) {
    const mounts = mountsUnder(dir);
    if (mounts.length === 0) return;
    for (const m of mounts) {
      try {
        execFileSync('umount', ['-l', m], { stdio: 'ignore' });
      } catch { /* already gone with its parent */ }
    }
  }
}

/** Kills (SIGKILL) the processes recorded in, or running from, `dir`; returns when they are gone. */
export function killUnder(dir) {
  const pids = new Set(processesUnder(dir));
  const pidFile = join(dir, 'pids');
  if (existsSync(pidFile)) {
    for (const l of readFileSync(pidFile, 'utf8').split('\n')) {
      const [pid, ...rest] = l.split(' ');
      const n = Number(pid);
      // Only if it is still the program we started (pids are reused).
      if (n > 0 && cmdline(n).startsWith(rest.join(' '))) pids.add(n);
    }
  }
  for (const pid of pids) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
  const deadline = Date.now() + 5000;
  while ([...pids].some(alive) && Date.now() < deadline) execFileSync('sleep', ['0.1']);
  // containerd writes its goroutines to $TMPDIR/containerd.PID.stacks.log when dockerd sends it
  // SIGUSR1 (a slow shutdown): the name carries the pid, so only ours are removed.
  for (const pid of pids) rmSync(`/tmp/containerd.${pid}.stacks.log`, { force: true });
}

/** Removes `dir` after killing its processes and unmounting what is under it. */
export function removeDir(dir) {
  if (!existsSync(dir)) return;
  killUnder(dir);
  unmountUnder(dir);
  rmSync(dir, { recursive: true, force: true });
}

/** The dirs of cgroup `name` (a top-level cgroup) in every hierarchy: v1 controllers and v2. */
function cgroupDirs(name) {
  const base = '/sys/fs/cgroup';
  const dirs = [join(base, name)];
  try {
    for (const c of readdirSync(base)) dirs.push(join(base, c, name));
  } catch { /* no cgroupfs */ }
  return dirs.filter((d) => existsSync(join(d, 'cgroup.procs')));
}

/** Every dir of the subtree at `dir`, deepest first. */
function subtree(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) out.push(...subtree(join(dir, e.name)));
  out.push(dir);
  return out;
}

/**
 * Removes the top-level cgroup `name` a daemon of ours made (its
 * cgroup-parent), in every hierarchy: kills what still runs in it (a
 * container left by a killed daemon), then removes its dirs, deepest first.
 */
export function removeCgroup(name) {
  for (let i = 0; i < 5; i++) {
    const dirs = cgroupDirs(name);
    if (dirs.length === 0) return;
    const pids = new Set();
    for (const d of dirs.flatMap(subtree)) {
      for (const p of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n')) if (Number(p) > 0) pids.add(Number(p));
    }
    for (const pid of pids) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
    const deadline = Date.now() + 5000;
    while ([...pids].some(alive) && Date.now() < deadline) execFileSync('sleep', ['0.1']);
    for (const d of dirs.flatMap(subtree)) {
      try { rmdirSync(d); } catch { /* busy: next round */ }
    }
  }
}
