// A local registry for the benchmarks: Debian's docker-registry
// (distribution 2.8) on 127.0.0.1, storing under the workspace. reset()
// restarts it empty on the same port, so that every timed push uploads every
// blob (no tool gets a free "already exists") and dockerd's
// insecure-registries entry, fixed when the daemon starts, stays right.
import { registryConfigYaml } from '../../scripts/lib/registry-config.mjs';
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stopChild } from '../../scripts/lib/proc.mjs';

export const REGISTRY_BIN = '/usr/bin/docker-registry';

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function probe(port) {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path: '/v2/' }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', reject);
  });
}

function config(storage, port) {
  return registryConfigYaml({ storage, port, secret: 'tsbuild-bench-secret' });
}

export class Registry {
  constructor(ws, name = 'registry') {
    this.ws = ws;
    this.dir = ws.path(name, { mkdir: true });
    this.storage = join(this.dir, 'storage');
    this.child = undefined;
    ws.onClose(() => this.stop());
  }

  get host() {
    return `127.0.0.1:${this.port}`;
  }

  async start() {
    this.port ??= await freePort();
    const cfg = join(this.dir, 'config.yml');
    writeFileSync(cfg, config(this.storage, this.port));
    let output = '';
    const child = spawn(REGISTRY_BIN, ['serve', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    this.ws.recordPid(child.pid, REGISTRY_BIN);
    this.child = child;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) break;
      try {
        if ((await probe(this.port)) === 200) return this;
      } catch { /* not listening yet */ }
      await sleep(50);
    }
    throw new Error(`docker-registry did not start on ${this.host}: ${output.slice(-500)}`);
  }

  async stop() {
    const child = this.child;
    this.child = undefined;
    await stopChild(child, 5000);
  }

  /** Restarts the registry with no content, on the same port. */
  async reset() {
    await this.stop();
    rmSync(this.storage, { recursive: true, force: true });
    await this.start();
  }
}
