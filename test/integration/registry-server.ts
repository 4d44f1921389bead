// A real registry for integration tests: Debian's docker-registry
// (distribution 2.8) on 127.0.0.1 on a free port, storing under a temp dir,
// optionally behind htpasswd basic auth or token (bearer) auth. Each server
// writes its pid into its dir so that a test run killed midway is cleaned up
// by the next one (cleanupStaleRegistries, called from global-setup).
// @ts-expect-error: a plain .mjs module shared with the benchmarks
import { registryConfigYaml } from '../../scripts/lib/registry-config.mjs';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { reapStaleDirs } from './stale-dirs.js';

export const REGISTRY_BIN = '/usr/bin/docker-registry';
const TMP_PREFIX = 'tsbuild-registry-';

export interface TokenAuthConfig {
  realm: string;
  service: string;
  issuer: string;
  /** PEM file with the certificate(s) whose keys sign tokens. */
  rootCertBundle: string;
}

export interface RegistryOptions {
  /** Basic auth with one user (htpasswd -Bbn). */
  htpasswd?: { username: string; password: string };
  token?: TokenAuthConfig;
  /** Serve HTTPS with this certificate and key (PEM files). */
  tls?: { certificate: string; key: string };
}

export interface RegistryServer {
  /** `127.0.0.1:PORT`, the registry part of references. */
  host: string;
  port: number;
  /** Storage root (docker/registry/v2/… lives under it). */
  storageDir: string;
  /** Path of a blob's data file on the registry's disk. */
  blobDataPath(digest: string): string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function configYaml(storage: string, port: number, opts: RegistryOptions, htpasswdPath: string): string {
  let auth = '';
  if (opts.htpasswd) auth = `auth:\n  htpasswd:\n    realm: tsbuild-test\n    path: ${htpasswdPath}\n`;
  if (opts.token) {
    auth = `auth:\n  token:\n    realm: ${opts.token.realm}\n    service: ${opts.token.service}\n    issuer: ${opts.token.issuer}\n    rootcertbundle: ${opts.token.rootCertBundle}\n`;
  }
  const tls = opts.tls ? `  tls:\n    certificate: ${opts.tls.certificate}\n    key: ${opts.tls.key}\n` : '';
  return registryConfigYaml({ storage, port, logLevel: 'warn', secret: 'tsbuild-test-secret', httpExtra: tls, extra: auth });
}

/** The status of GET /v2/, over HTTPS without verification when `tls`. */
function probe(port: number, tls: boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = (tls ? httpsGet : httpGet)({ host: '127.0.0.1', port, path: '/v2/', rejectUnauthorized: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
  });
}

async function waitUntilUp(child: ChildProcess, port: number, tls: boolean, log: () => string): Promise<boolean> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    try {
      const status = await probe(port, tls);
      if (status === 200 || status === 401) return true;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`docker-registry did not answer on port ${port}: ${log()}`);
}

/** Start a registry; stop() kills it and removes its storage. */
export async function startRegistry(opts: RegistryOptions = {}): Promise<RegistryServer> {
  const dir = mkdtempSync(join('/tmp', TMP_PREFIX));
  writeFileSync(join(dir, 'owner'), String(process.pid));
  const storage = join(dir, 'storage');
  const htpasswdPath = join(dir, 'htpasswd');
  if (opts.htpasswd) {
    const line = execFileSync('htpasswd', ['-Bbn', opts.htpasswd.username, opts.htpasswd.password], { encoding: 'utf8' });
    writeFileSync(htpasswdPath, line);
  }
  // A free port can be taken between probe and bind: try a few.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const configPath = join(dir, 'config.yml');
    writeFileSync(configPath, configYaml(storage, port, opts, htpasswdPath));
    let output = '';
    const child = spawn(REGISTRY_BIN, ['serve', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d: Buffer) => { output += d.toString(); });
    child.stderr?.on('data', (d: Buffer) => { output += d.toString(); });
    writeFileSync(join(dir, 'pid'), String(child.pid));
    if (!(await waitUntilUp(child, port, opts.tls !== undefined, () => output))) continue;
    const stop = async (): Promise<void> => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    };
    return {
      host: `127.0.0.1:${port}`,
      port,
      storageDir: storage,
      blobDataPath: (digest: string) => {
        const hex = digest.replace(/^sha256:/, '');
        return join(storage, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
      },
      stop,
    };
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error('docker-registry failed to start');
}

/** Kill registries (and remove dirs) left by a test run that was killed. */
export function cleanupStaleRegistries(): void {
  // Only kill it if it is still a docker-registry process (pids are reused).
  reapStaleDirs(TMP_PREFIX, (pid) => {
    if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith(REGISTRY_BIN)) process.kill(pid, 'SIGKILL');
  });
}
