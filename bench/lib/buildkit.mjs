// BuildKit as Debian's docker.io (dockerd 20.10) embeds it: a private
// dockerd run as root with its own config file, data-root, exec-root,
// pidfile and unix socket under the workspace, no iptables and no bridge,
// and the benchmark's registry as an insecure registry. The daemon starts
// its own containerd (under exec-root). Builds go through the docker CLI
// with DOCKER_BUILDKIT=1, as users run them; the daemon is already up, as
// it is on a CI runner, so its start-up is not counted.
import { closeSync, existsSync, openSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn } from 'node:child_process';
import { run, stopChild } from './proc.mjs';

export const DOCKERD = '/usr/sbin/dockerd';
export const DOCKER = '/usr/bin/docker';
const RUN_DOCKER = '/run/docker';

export class BuildKit {
  constructor(ws, { insecureRegistry }) {
    this.ws = ws;
    this.dir = ws.path('docker', { mkdir: true });
    this.sock = join(this.dir, 'docker.sock');
    this.log = join(this.dir, 'dockerd.log');
    this.insecureRegistry = insecureRegistry;
    this.available = false;
    this.reason = '';
    ws.onClose(() => this.stop());
  }

  /** Starts the daemon; on failure sets `reason` (with the log's tail) and resolves false. */
  async start() {
    if (!existsSync(DOCKERD) || !existsSync(DOCKER)) {
      this.reason = `${DOCKERD} or ${DOCKER} is not installed (scripts/install-deps.sh installs docker.io)`;
      return false;
    }
    const cfg = join(this.dir, 'daemon.json');
    writeFileSync(cfg, JSON.stringify({
      iptables: false,
      'ip-forward': false,
      'ip-masq': false,
      bridge: 'none',
      'insecure-registries': [this.insecureRegistry],
      'data-root': join(this.dir, 'data'),
      'exec-root': join(this.dir, 'exec'),
      pidfile: join(this.dir, 'dockerd.pid'),
      // Else dockerd writes its trust key to /etc/docker/key.json, outside the workspace.
      'deprecated-key-path': join(this.dir, 'key.json'),
      hosts: [`unix://${this.sock}`],
      'storage-driver': 'overlay2',
      debug: process.env.BENCH_DOCKERD_DEBUG === '1',
      features: { buildkit: true },
    }, null, 2));
    // dockerd always makes /run/docker/plugins (plugin discovery); remove it afterwards if it was ours.
    this.madeRunDocker = !existsSync(RUN_DOCKER);
    const logFd = openSync(this.log, 'a');
    const child = spawn(DOCKERD, ['--config-file', cfg], { stdio: ['ignore', logFd, logFd], detached: true });
    closeSync(logFd);
    child.unref();
    this.child = child;
    this.ws.recordPid(child.pid, DOCKERD);
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

  docker(args, opts = {}) {
    return run(DOCKER, ['-H', `unix://${this.sock}`, ...args], {
      ...opts,
      env: { DOCKER_BUILDKIT: '1', DOCKER_CONFIG: join(this.dir, 'client-config'), ...(opts.env ?? {}) },
    });
  }

  build({ file, context, tag, noCache = false, extra = [] }) {
    const args = ['build', '--network', 'none', '--progress', 'plain', '-f', file];
    if (tag) args.push('-t', tag);
    if (noCache) args.push('--no-cache');
    return this.docker([...args, ...extra, context]);
  }

  /** Removes every image and the build cache: a cold daemon, short of restarting it. */
  async wipe() {
    const ids = (await this.docker(['images', '-aq'])).stdout.split('\n').filter(Boolean);
    if (ids.length > 0) await this.docker(['rmi', '-f', ...new Set(ids)], { allowFail: true });
    await this.docker(['builder', 'prune', '-af'], { allowFail: true });
  }

  /** Stops the daemon (SIGTERM, then SIGKILL); the workspace kills its containerd and shims and unmounts. */
  async stop() {
    const child = this.child;
    this.child = undefined;
    if (!child) return;
    await stopChild(child, 20_000);
    if (this.madeRunDocker) {
      // Only empty dirs: another daemon may be using them.
      for (const d of [join(RUN_DOCKER, 'plugins'), RUN_DOCKER]) {
        try { rmdirSync(d); } catch { /* in use or gone */ }
      }
    }
  }
}
