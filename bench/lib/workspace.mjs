// One temp dir per benchmark run, holding every store, registry and daemon
// dir the run makes, and a LIFO list of teardown steps. Teardown runs on
// success, failure, Ctrl-C and SIGTERM; a run killed with -9 is cleaned up
// by the next one (cleanupStale), which finds the dir by its prefix, sees
// its owner pid is gone, kills the processes it recorded, unmounts what is
// mounted under it and removes it.
import { execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const TMP_PREFIX = 'tsbuild-bench-';

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

function cmdline(pid) {
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
}

/** Removes `dir` after killing its processes and unmounting what is under it. */
export function removeDir(dir) {
  if (!existsSync(dir)) return;
  killUnder(dir);
  unmountUnder(dir);
  rmSync(dir, { recursive: true, force: true });
}

/** Removes the dirs of benchmark runs whose process is gone (a kill -9, a crashed CI job). */
export function cleanupStale(tmp = '/tmp') {
  for (const name of readdirSync(tmp)) {
    if (!name.startsWith(TMP_PREFIX)) continue;
    const dir = join(tmp, name);
    try {
      if (!lstatSync(dir).isDirectory()) continue;
    } catch { continue; }
    let owner = 0;
    try { owner = Number(readFileSync(join(dir, 'owner'), 'utf8')); } catch { /* half made */ }
    if (owner > 0 && alive(owner) && cmdline(owner).includes('bench')) continue;
    process.stderr.write(`bench: removing ${dir} left by an earlier run\n`);
    removeDir(dir);
  }
}

export class Workspace {
  constructor(name) {
    cleanupStale();
    this.dir = mkdtempSync(join('/tmp', `${TMP_PREFIX}${name}-`));
    chmodSync(this.dir, 0o755);
    writeFileSync(join(this.dir, 'owner'), String(process.pid));
    process.stderr.write(`bench: workspace ${this.dir}\n`);
    this.teardowns = [];
    this.closed = false;
    const onSignal = (sig) => {
      process.stderr.write(`bench: ${sig}, cleaning up\n`);
      this.close().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
    };
    this.handlers = { SIGINT: () => onSignal('SIGINT'), SIGTERM: () => onSignal('SIGTERM'), SIGHUP: () => onSignal('SIGHUP') };
    for (const [sig, h] of Object.entries(this.handlers)) process.on(sig, h);
  }

  /** A path inside the workspace; with `mkdir`, the dir is created. */
  path(sub, { mkdir = false } = {}) {
    const p = join(this.dir, sub);
    if (mkdir) mkdirSync(p, { recursive: true });
    return p;
  }

  /** Records a long-lived child so that a later run can kill it if this one is killed. */
  recordPid(pid, command) {
    appendFileSync(join(this.dir, 'pids'), `${pid} ${command}\n`);
  }

  /** Registers a teardown step; they run last-registered first. */
  onClose(fn) {
    this.teardowns.push(fn);
  }

  async close() {
    if (this.closed) return;
    this.closed = true;
    for (const fn of this.teardowns.reverse()) {
      try {
        await fn();
      } catch (e) {
        process.stderr.write(`bench: teardown: ${e.message}\n`);
      }
    }
    removeDir(this.dir);
    const left = mountsUnder(this.dir);
    if (left.length > 0) process.stderr.write(`bench: still mounted: ${left.join(', ')}\n`);
    for (const [sig, h] of Object.entries(this.handlers)) process.off(sig, h);
  }
}
