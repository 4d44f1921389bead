// One temp dir per benchmark run, holding every store, registry and daemon
// dir the run makes, and a LIFO list of teardown steps. Teardown runs on
// success, failure, Ctrl-C and SIGTERM; a run killed with -9 is cleaned up
// by the next one (cleanupStale), which finds the dir by its prefix, sees
// its owner pid is gone, kills the processes it recorded, unmounts what is
// mounted under it and removes it.
import { appendFileSync, chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupDockerdDir } from '../../scripts/lib/dockerd.mjs';
import { alive, cmdline, mountsUnder, removeDir, unmountUnder } from '../../scripts/lib/teardown.mjs';

export { mountsUnder, removeDir, unmountUnder };

export const TMP_PREFIX = 'tsbuild-bench-';

/** This process as its workspace's owner file names it: pid and start time (a reused pid is another process). */
function ownerLine(pid = process.pid) {
  return `${pid} ${startTime(pid) ?? ''}`.trim();
}

/** The kernel's start time of `pid` (field 22 of /proc/PID/stat), or undefined if it is gone. */
function startTime(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/**
 * True while the run that made a workspace is alive. The owner file names its
 * pid and start time, so any script (a bench, an engineer's A/B script) keeps
 * its dir while it runs, and a reused pid does not. An owner file of the
 * older pid-only form keeps the dir only while a bench process has that pid.
 */
function ownerRuns(owner) {
  const [pidText, start] = owner.trim().split(' ');
  const pid = Number(pidText);
  if (!(pid > 0) || !alive(pid)) return false;
  return start !== undefined ? startTime(pid) === start : cmdline(pid).includes('bench');
}

/** Removes the dirs of benchmark runs whose process is gone (a kill -9, a crashed CI job). */
export function cleanupStale(tmp = '/tmp') {
  for (const name of readdirSync(tmp)) {
    if (!name.startsWith(TMP_PREFIX)) continue;
    const dir = join(tmp, name);
    try {
      if (!lstatSync(dir).isDirectory()) continue;
    } catch { continue; }
    let owner = '';
    try { owner = readFileSync(join(dir, 'owner'), 'utf8'); } catch {
      // Half made (between mkdtemp and the owner file) if it is young; else a crash left it.
      if (Date.now() - lstatSync(dir).mtimeMs < 60_000) continue;
    }
    if (ownerRuns(owner)) continue;
    process.stderr.write(`bench: removing ${dir} left by an earlier run\n`);
    // Its dockerd's cgroup lives outside the dir (bench/lib/buildkit.mjs puts the daemon in DIR/docker).
    cleanupDockerdDir(join(dir, 'docker'));
    removeDir(dir);
  }
}

export class Workspace {
  constructor(name) {
    cleanupStale();
    this.dir = mkdtempSync(join('/tmp', `${TMP_PREFIX}${name}-`));
    chmodSync(this.dir, 0o755);
    writeFileSync(join(this.dir, 'owner'), ownerLine());
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
