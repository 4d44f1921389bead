// BuildKit as Debian's docker.io (dockerd 20.10) embeds it, for the
// benchmarks and the differential tests: a private dockerd run as root with
// its own config file, data-root, exec-root, pidfile and unix socket in one
// dir, no iptables and no bridge, and its cgroups under a cgroup-parent
// named after the dir. dockerd starts its own containerd (under exec-root),
// which starts a shim per container. Builds go through the docker CLI with
// DOCKER_BUILDKIT=1, as users run them.
//
// Everything such a daemon leaves lives under its dir or its cgroup, so
// cleanup is exact: kill the processes that name the dir (dockerd,
// containerd, shims), unmount what is mounted under it (dockerd bind-mounts
// its data-root; overlay2 mounts layers), remove the cgroup, then the dir.
// A run killed with -9 leaves an `owner` file with a dead pid: the next run
// cleans it up (cleanupStaleDockerds), as registry-server.ts does.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { run, stopChild } from './proc.mjs';
import { alive, cmdline, removeCgroup, removeDir } from './teardown.mjs';

export const DOCKERD = '/usr/sbin/dockerd';
// Debian's docker.io client, by full path: another docker CLI earlier in PATH
// may be one that insists on the buildx plugin for DOCKER_BUILDKIT=1.
export const DOCKER = '/usr/bin/docker';
const RUN_DOCKER = '/run/docker';
// dockerd always makes /run/docker/plugins (plugin discovery), whatever its
// exec-root. When none was there before, this marker says a daemon of ours
// made it, so the last of ours to stop removes it (if empty).
const RUN_DOCKER_MARKER = '/run/tsbuild-made-run-docker';

/** The top-level cgroup of the daemon in `dir`: named after the dir's path, so cleanup finds it from the dir alone. */
export function cgroupName(dir) {
  return `tsbuild-dockerd-${createHash('sha256').update(dir).digest('hex').slice(0, 12)}`;
}

/** The daemon.json of a private dockerd in `dir`. */
export function daemonConfig(dir, { insecureRegistries = [], debug = false } = {}) {
  return {
    iptables: false,
    'ip-forward': false,
    'ip-masq': false,
    bridge: 'none',
    'insecure-registries': insecureRegistries,
    'data-root': join(dir, 'data'),
    'exec-root': join(dir, 'exec'),
    pidfile: join(dir, 'dockerd.pid'),
    // Else dockerd writes its trust key to /etc/docker/key.json, outside the dir.
    'deprecated-key-path': join(dir, 'key.json'),
    hosts: [`unix://${join(dir, 'docker.sock')}`],
    'storage-driver': 'overlay2',
    // Build steps' cgroups go under a cgroup of this daemon's own, not the shared /docker.
    'cgroup-parent': `/${cgroupName(dir)}`,
    debug,
    features: { buildkit: true },
  };
}

export class Dockerd {
  /** `dir` is made if missing and belongs to this daemon: stop() removes it. */
  constructor(dir, { insecureRegistries = [], debug = false } = {}) {
    this.dir = dir;
    this.sock = join(dir, 'docker.sock');
    this.log = join(dir, 'dockerd.log');
    this.opts = { insecureRegistries, debug };
    this.available = false;
    this.reason = '';
  }

  /**
   * Starts the daemon; on failure sets `reason` (with the log's tail) and
   * resolves false. dockerd gives its containerd a fixed time to come up; on
   * a loaded 2-core machine that can run out (`timeout waiting for
   * containerd to start`, seen once in CI): then whatever it left is removed
   * and it is started once more.
   */
  async start() {
    if (await this.startOnce()) return true;
    if (!/timeout waiting for containerd/.test(this.reason ?? '')) return false;
    const first = this.reason;
    await stopChild(this.child, 20_000).catch(() => {});
    this.child = undefined;
    cleanupDockerdDir(this.dir);
    if (await this.startOnce()) return true;
    this.reason = `${this.reason} (a first start failed too: ${first})`;
    return false;
  }

  /** One start of dockerd, waiting until it answers. */
  async startOnce() {
    if (!existsSync(DOCKERD) || !existsSync(DOCKER)) {
      this.reason = `${DOCKERD} or ${DOCKER} is not installed (scripts/install-deps.sh installs docker.io)`;
      return false;
    }
    mkdirSync(this.dir, { recursive: true });
    writeFileSync(join(this.dir, 'owner'), String(process.pid));
    const cfg = join(this.dir, 'daemon.json');
    writeFileSync(cfg, JSON.stringify(daemonConfig(this.dir, this.opts), null, 2));
    if (!existsSync(RUN_DOCKER)) writeFileSync(RUN_DOCKER_MARKER, '');
    const logFd = openSync(this.log, 'a');
    // TMPDIR inside the dir: containerd dumps its goroutines to $TMPDIR/containerd.PID.stacks.log when
    // dockerd stops it slowly, and such a dump (of a containerd already gone) went on living in /tmp.
    const tmp = join(this.dir, 'tmp');
    mkdirSync(tmp, { recursive: true });
    const child = spawn(DOCKERD, ['--config-file', cfg], { stdio: ['ignore', logFd, logFd], detached: true, env: { ...process.env, TMPDIR: tmp } });
    closeSync(logFd);
    child.unref();
    this.child = child;
    writeFileSync(join(this.dir, 'pids'), `${child.pid} ${DOCKERD}\n`);
    const exited = new Promise((r) => child.once('exit', (code, sig) => r(`dockerd exited (${sig ?? code})`)));
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const early = await Promise.race([exited, sleep(200).then(() => undefined)]);
      if (early) return this.fail(early);
      if (existsSync(this.sock) && (await this.docker(['version', '--format', '{{.Server.Version}}'], { allowFail: true })).code === 0) {
        this.available = true;
        return true;
      }
    }
    return this.fail('dockerd did not answer within 60 s');
  }

  fail(why) {
    let tail = '';
    try {
      tail = readFileSync(this.log, 'utf8').trim().split('\n').slice(-5).join(' | ');
    } catch { /* no log */ }
    this.reason = `${why}${tail ? `: ${tail}` : ''}`;
    return false;
  }

  /** Runs the docker CLI against this daemon (scripts/lib/proc.mjs run: rejects on failure unless allowFail). */
  docker(args, opts = {}) {
    return run(DOCKER, ['-H', `unix://${this.sock}`, ...args], {
      ...opts,
      env: { DOCKER_BUILDKIT: '1', DOCKER_CONFIG: join(this.dir, 'client-config'), ...(opts.env ?? {}) },
    });
  }

  /** `docker build --network none` (or `network`) as users run it; `extra` goes before the context. */
  build({ file, context, tag, noCache = false, network = 'none', extra = [], allowFail = false }) {
    const args = ['build', '--network', network, '--progress', 'plain', '-f', file];
    if (tag) args.push('-t', tag);
    if (noCache) args.push('--no-cache');
    return this.docker([...args, ...extra, context], { allowFail });
  }

  /** Removes every image and the build cache: a cold daemon, short of restarting it. */
  async wipe() {
    const ids = (await this.docker(['images', '-aq'])).stdout.split('\n').filter(Boolean);
    if (ids.length > 0) await this.docker(['rmi', '-f', ...new Set(ids)], { allowFail: true });
    await this.docker(['builder', 'prune', '-af'], { allowFail: true });
  }

  /** Stops the daemon (SIGTERM, then SIGKILL) and removes all it left: processes, mounts, cgroup, dir. */
  async stop() {
    const child = this.child;
    this.child = undefined;
    this.available = false;
    if (child) await stopChild(child, 20_000);
    cleanupDockerdDir(this.dir);
  }
}

/** Removes what a (stopped or killed) private dockerd in `dir` left behind. */
export function cleanupDockerdDir(dir) {
  // removeDir kills dockerd (pids file), containerd and shims (their
  // command lines name the dir) and unmounts before removing.
  removeDir(dir);
  removeCgroup(cgroupName(dir));
  removeRunDocker();
}

/** Removes /run/docker/plugins and /run/docker if a daemon of ours made them and no dockerd runs now. */
function removeRunDocker() {
  if (!existsSync(RUN_DOCKER_MARKER)) return;
  const others = readdirSync('/proc').some((p) => /^\d+$/.test(p) && cmdline(Number(p)).startsWith(DOCKERD));
  if (others) return;
  for (const d of [join(RUN_DOCKER, 'plugins'), RUN_DOCKER]) {
    try { rmdirSync(d); } catch { /* not empty or gone */ }
  }
  if (!existsSync(RUN_DOCKER)) rmSync(RUN_DOCKER_MARKER, { force: true });
}

/** Cleans up the private dockerds of runs that were killed: dirs `<tmp>/<prefix>*` whose owner pid is gone. */
export function cleanupStaleDockerds(prefix, tmp = '/tmp') {
  for (const name of readdirSync(tmp)) {
    if (!name.startsWith(prefix)) continue;
    const dir = join(tmp, name);
    let owner = 0;
    try { owner = Number(readFileSync(join(dir, 'owner'), 'utf8')); } catch { /* half made */ }
    if (owner > 0 && alive(owner)) continue;
    cleanupDockerdDir(dir);
  }
}
