// Lazy pulls from the registry build cache, through the real CLI and
// Debian's docker-registry, counted by a TCP proxy in front of it that logs
// every HTTP request line (its own process: the CLI runs under spawnSync,
// which blocks this one's event loop). Runner A builds a two-stage file and
// exports mode=max; then, on empty stores:
// - a fully cached `build -t x` downloads no step layer (and so none of the
//   builder stage), and `tsbuild run x` right after works, fetching only the
//   final image's layers;
// - a fully cached `build --push` to the same registry moves no layer bytes
//   either way (mounts only) and pushes runner A's digest;
// - a lazy layer whose source is gone is one line on `run` and `save`, and
//   leaves nothing behind in the store's tmp.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxLayout, tempRoot, tsbuild } from '../fixtures.js';
import { startRegistry, type RegistryServer } from '../registry-server.js';
import { layerSteps, parseSteps } from './progress-steps.js';

const CONTAINERFILE = `ARG BASE
FROM \${BASE} AS builder
RUN echo built > /artifact && head -c 20000 /dev/urandom > /builder-only
FROM \${BASE}
COPY --from=builder /artifact /artifact
RUN cat /proc/sys/kernel/random/uuid > /id
CMD ["cat", "/id"]
`;

/** Logs "METHOD PATH" of every request it forwards, one per line, to LOG. */
const PROXY = `
const net = require('node:net'); const fs = require('node:fs');
const [, upstreamPort, log] = process.argv;
const s = net.createServer((c) => {
  const u = net.connect(Number(upstreamPort), '127.0.0.1');
  let buf = '';
  c.on('data', (d) => {
    buf += d.toString('latin1');
    const lines = buf.split('\\r\\n'); buf = lines.pop().slice(-8192);
    for (const l of lines) { const m = /^(GET|HEAD|POST|PUT|PATCH|DELETE) (\\/v2\\/\\S*) HTTP\\/1\\.[01]$/.exec(l); if (m) fs.appendFileSync(log, m[1] + ' ' + m[2] + '\\n'); }
  });
  c.pipe(u); u.pipe(c);
  c.on('error', () => u.destroy()); u.on('error', () => c.destroy());
});
s.listen(0, '127.0.0.1', () => console.log(s.address().port));
`;

let reg: RegistryServer;
let proxy: ChildProcess | undefined;
let proxyHost: string;
let logFile: string;
let work: string;
let ctx: string;
let digestA: string;
let idA: string;
const roots: (() => void)[] = [];
const layersOf: Record<string, string[]> = {};

function runner(name: string): string {
  const { root, cleanup } = tempRoot(`lazycache-${name}`);
  roots.push(cleanup);
  return root;
}

/** Runners after A take the base through the proxy too: one registry, as on a CI runner. */
function build(root: string, tag: string, extra: string[], baseHost = proxyHost): string {
  const r = tsbuild(root, ['build', '--progress', 'plain', '--build-arg', `BASE=${baseHost}/library/busybox:stable`, '-f', join(ctx, 'Containerfile'), '-t', tag, ...extra, ctx], { timeout: 240_000 });
  expect(r.status, r.stderr).toBe(0);
  return r.stderr;
}

function requests(): string[] {
  try { return readFileSync(logFile, 'utf8').split('\n').filter(Boolean); } catch { return []; }
}

function resetLog(): void {
  writeFileSync(logFile, '');
}

function manifestOf(ref: string): { config: { digest: string }; layers: { digest: string }[] } {
  return JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${ref}`], { encoding: 'utf8' })) as { config: { digest: string }; layers: { digest: string }[] };
}

function skopeoDigest(ref: string): string {
  const raw = execFileSync('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${ref}`]);
  return `sha256:${createHash('sha256').update(raw).digest('hex')}`;
}

async function stopProxy(): Promise<void> {
  if (proxy && proxy.exitCode === null && proxy.signalCode === null) {
    const exited = new Promise((r) => proxy?.once('exit', r));
    proxy.kill('SIGTERM');
    await exited;
  }
}

beforeAll(async () => {
  reg = await startRegistry();
  work = mkdtempSync('/tmp/tsbuild-lazycache-');
  logFile = join(work, 'requests.log');
  proxy = spawn(process.execPath, ['-e', PROXY, String(reg.host.split(':')[1]), logFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve, reject) => {
    proxy?.stdout?.once('data', (d: Buffer) => resolve(d.toString().trim()));
    proxy?.once('exit', () => reject(new Error('the proxy exited')));
  });
  proxyHost = `127.0.0.1:${port}`;
  const seed = runner('seed');
  for (const args of [['load', '-i', busyboxLayout], ['push', 'busybox:stable', `${reg.host}/library/busybox:stable`]]) {
    const r = tsbuild(seed, args, { timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
  }
  ctx = join(work, 'ctx');
  mkdirSync(ctx);
  writeFileSync(join(ctx, 'Containerfile'), CONTAINERFILE);
  // Runner A: builds everything, pushes, exports mode=max (straight to the registry).
  const a = runner('a');
  build(a, `${reg.host}/lazy/app:a`, ['--push', '--cache-to', `type=registry,ref=${reg.host}/cache/lazy:max,mode=max`], reg.host);
  digestA = skopeoDigest(`${reg.host}/lazy/app:a`);
  const run = tsbuild(a, ['run', '--rm', `${reg.host}/lazy/app:a`]);
  expect(run.status, run.stderr).toBe(0);
  idA = run.stdout.trim();
  const cache = manifestOf(`${reg.host}/cache/lazy:max`);
  const image = manifestOf(`${reg.host}/lazy/app:a`);
  const base = manifestOf(`${reg.host}/library/busybox:stable`);
  const baseLayers = new Set(base.layers.map((l) => l.digest));
  layersOf.steps = cache.layers.map((l) => l.digest);
  layersOf.image = image.layers.map((l) => l.digest).filter((d) => !baseLayers.has(d));
  layersOf.builderOnly = layersOf.steps.filter((d) => !layersOf.image?.includes(d));
  expect(layersOf.steps).toHaveLength(3); // builder RUN, COPY --from, RUN
  expect(layersOf.builderOnly).toHaveLength(1);
});

afterAll(async () => {
  await stopProxy();
  await reg?.stop();
  for (const c of roots) c();
  if (work) rmSync(work, { recursive: true, force: true });
});

const cacheFrom = () => ['--cache-from', `type=registry,ref=${proxyHost}/cache/lazy:max`];
const blobGets = (digests: readonly string[]) => requests().filter((l) => /^GET \/v2\/.*\/blobs\//.test(l) && digests.some((d) => l.endsWith(d)));

describe('lazy pulls from the registry cache', () => {
  it('a fully cached build -t downloads no step layer, and run works right after (fetching only the image\'s layers)', () => {
    const b = runner('b');
    resetLog();
    const stderr = build(b, 'lazy:b', cacheFrom());
    expect(layerSteps(parseSteps(stderr)).every((s) => s.endsWith('=> cached')), stderr).toBe(true);
    expect(requests().length).toBeGreaterThan(0); // the record did come through the proxy
    expect(blobGets(layersOf.steps as string[])).toEqual([]);
    // The steps are kept locally too (on their lazy layers): a rebuild here needs no --cache-from and fetches nothing.
    resetLog();
    const again = build(b, 'lazy:b', []);
    expect(layerSteps(parseSteps(again)).every((s) => s.endsWith('=> cached')), again).toBe(true);
    expect(blobGets(layersOf.steps as string[])).toEqual([]);
    // inspect and history need no layer bytes.
    for (const cmd of [['inspect', 'lazy:b'], ['history', 'lazy:b']]) {
      const r = tsbuild(b, cmd);
      expect(r.status, r.stderr).toBe(0);
    }
    expect(blobGets(layersOf.steps as string[])).toEqual([]);
    const run = tsbuild(b, ['run', '--rm', 'lazy:b']);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe(idA); // runner A's layer, not a rerun
    // The image's own layers came on first use, each once; the builder-only layer never.
    const got = blobGets(layersOf.image as string[]);
    expect(got).toHaveLength((layersOf.image as string[]).length);
    expect(blobGets(layersOf.builderOnly as string[])).toEqual([]);
    // The store now holds them for good: a second run fetches nothing.
    resetLog();
    expect(tsbuild(b, ['run', '--rm', 'lazy:b']).status).toBe(0);
    expect(requests()).toEqual([]);
  });

  it('a fully cached build --push to the same registry mounts every layer (no layer bytes either way) and pushes runner A\'s digest', () => {
    const c = runner('c');
    resetLog();
    // A repository that has none of the blobs yet: every one must be mounted.
    const stderr = build(c, `${proxyHost}/lazy/other:c`, ['--push', ...cacheFrom()]);
    expect(layerSteps(parseSteps(stderr)).every((s) => s.endsWith('=> cached')), stderr).toBe(true);
    const log = requests();
    expect(blobGets(layersOf.steps as string[])).toEqual([]);
    // No layer goes up: the only blob upload is the image config (a few hundred bytes, in no repository there yet).
    const config = manifestOf(`${reg.host}/lazy/app:a`).config.digest;
    const uploads = log.filter((l) => /^(PATCH|PUT) \/v2\/.*\/blobs\/uploads\//.test(l));
    expect(uploads.map((l) => (l.startsWith('PUT') && l.endsWith(`digest=${encodeURIComponent(config)}`) ? 'config' : l)), log.join('\n')).toEqual(['config']);
    const mounts = log.filter((l) => /^POST \/v2\/lazy\/other\/blobs\/uploads\/\?mount=/.test(l));
    for (const d of layersOf.image as string[]) expect(mounts.some((l) => l.includes(encodeURIComponent(d)) && l.includes('from=cache%2Flazy')), `${d} mounted:\n${log.join('\n')}`).toBe(true);
    expect(skopeoDigest(`${reg.host}/lazy/other:c`)).toBe(digestA);
  });

  it('a lazy layer whose source is gone is one line on run and save, and leaves nothing in the store', async () => {
    const d = runner('d');
    build(d, 'lazy:d', cacheFrom());
    await stopProxy();
    for (const cmd of [['run', '--rm', 'lazy:d'], ['save', '-o', join(work, 'd.tar'), 'lazy:d']]) {
      const r = tsbuild(d, cmd, { timeout: 120_000 });
      expect(r.status, r.stderr).not.toBe(0);
      const lines = r.stderr.trim().split('\n');
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^tsbuild: layer sha256:[0-9a-f]{64} is not in the store and its source ${proxyHost.replace(/\./g, '\\.')}/cache/lazy cannot give it: `));
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    // No half-fetched blob or layer, no temp dirs; the image is still there to retry later.
    expect(readdirSync(join(d, 'tmp'))).toEqual([]);
    expect(tsbuild(d, ['inspect', 'lazy:d']).status).toBe(0);
  });
});
