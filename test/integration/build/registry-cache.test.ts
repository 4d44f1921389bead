// The shared build cache across "runners" (empty stores) through the real
// CLI and Debian's docker-registry: runner A builds and exports (mode=max),
// runner B imports it, runs no RUN step and pushes A's digest; runner C,
// after a source change, reruns only the steps after that COPY while the
// first stage still comes from the cache (mode=max; with mode=min it does
// not). Also: the buildah bare form and type=local round-trip, and a 401, a
// 500 and a corrupt or lying cache each leave the build working with one warning.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxLayout, tempRoot, tsbuild } from '../fixtures.js';
import { startRegistry, type RegistryServer } from '../registry-server.js';
import { layerSteps, parseSteps, type StepOutcome } from './progress-steps.js';

let reg: RegistryServer;
let authReg: RegistryServer;
let failing: ChildProcess;
let failingHost: string;
let work: string;
let ctx: string;
const roots: (() => void)[] = [];

const CONTAINERFILE = `ARG BASE
FROM \${BASE} AS deps
RUN echo deps > /deps && cat /proc/sys/kernel/random/uuid > /deps-id
FROM \${BASE}
COPY --from=deps /deps-id /deps-id
COPY app.txt /app.txt
RUN cat /app.txt > /app-copy && cat /proc/sys/kernel/random/uuid > /app-id
CMD ["cat", "/app-id"]
`;

/** An empty store: a fresh CI runner. */
function runner(name: string): string {
  const { root, cleanup } = tempRoot(`regcache-${name}`);
  roots.push(cleanup);
  return root;
}

function build(root: string, tag: string, extra: string[], context = ctx): { steps: StepOutcome[]; stderr: string } {
  const r = tsbuild(root, ['build', '--progress', 'plain', '--build-arg', `BASE=${reg.host}/library/busybox:stable`, '-f', join(context, 'Containerfile'), '-t', tag, ...extra, context], { timeout: 240_000 });
  expect(r.status, r.stderr).toBe(0);
  return { steps: parseSteps(r.stderr), stderr: r.stderr };
}

function warnings(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('warn: '));
}

function skopeoDigest(ref: string): string {
  const raw = execFileSync('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${ref}`]);
  return `sha256:${createHash('sha256').update(raw).digest('hex')}`;
}

/** Pushes a blob and a manifest with plain HTTP: how a hostile or broken cache ref gets into the registry. */
async function putRaw(repo: string, tag: string, blobs: Buffer[], manifest: object): Promise<void> {
  for (const b of blobs) {
    const digest = `sha256:${createHash('sha256').update(b).digest('hex')}`;
    const start = await fetch(`http://${reg.host}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    const loc = new URL(start.headers.get('location') as string, `http://${reg.host}`);
    loc.searchParams.set('digest', digest);
    const put = await fetch(loc, { method: 'PUT', body: b, headers: { 'Content-Type': 'application/octet-stream' } });
    expect(put.status).toBe(201);
  }
  const res = await fetch(`http://${reg.host}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT', body: JSON.stringify(manifest), headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
  });
  expect(res.status, await res.text()).toBe(201);
}

const desc = (b: Buffer, mediaType: string) => ({ mediaType, digest: `sha256:${createHash('sha256').update(b).digest('hex')}`, size: b.length });

beforeAll(async () => {
  [reg, authReg] = await Promise.all([startRegistry(), startRegistry({ htpasswd: { username: 'ci', password: 'secret' } })]);
  // A peer that answers 500 to everything, in its own process: the CLI runs
  // under spawnSync, which blocks this process's event loop.
  failing = spawn(process.execPath, ['-e', `const s = require('node:http').createServer((q, r) => { q.resume(); r.writeHead(500); r.end('boom'); });
    s.listen(0, '127.0.0.1', () => console.log(s.address().port));`], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve, reject) => {
    failing.stdout?.once('data', (d: Buffer) => resolve(d.toString().trim()));
    failing.once('exit', () => reject(new Error('the 500 server exited')));
  });
  failingHost = `127.0.0.1:${port}`;
  // The base image lives in the registry, so every runner starts empty.
  const seed = runner('seed');
  for (const args of [['load', '-i', busyboxLayout], ['push', 'busybox:stable', `${reg.host}/library/busybox:stable`]]) {
    const r = tsbuild(seed, args, { timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
  }
  work = mkdtempSync('/tmp/tsbuild-regcache-');
  ctx = join(work, 'ctx');
  mkdirSync(ctx);
  writeFileSync(join(ctx, 'app.txt'), 'version 1\n');
  writeFileSync(join(ctx, 'Containerfile'), CONTAINERFILE);
});

afterAll(async () => {
  if (failing && failing.exitCode === null) {
    const exited = new Promise((r) => failing.once('exit', r));
    failing.kill('SIGTERM');
    await exited;
  }
  await Promise.all([reg?.stop(), authReg?.stop()]);
  for (const c of roots) c();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('registry build cache across runners', () => {
  let digestA: string;
  const maxRef = () => `${reg.host}/cache/app:max`;
  const minRef = () => `${reg.host}/cache/app:min`;

  it('runner A builds everything and exports mode=max and mode=min caches', () => {
    const a = runner('a');
    const { steps, stderr } = build(a, `${reg.host}/app:a`, ['--push', '--cache-to', `type=registry,ref=${maxRef()},mode=max`, '--cache-to', `type=registry,ref=${minRef()}`]);
    expect(layerSteps(steps).every((s) => s.endsWith('=> built')), layerSteps(steps).join('\n')).toBe(true);
    expect(warnings(stderr)).toEqual([]);
    digestA = skopeoDigest(`${reg.host}/app:a`);
    // The cache is an OCI image manifest (not an index) whose config is tsbuild's record.
    const manifest = JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${maxRef()}`], { encoding: 'utf8' })) as { mediaType: string; config: { mediaType: string }; layers: unknown[] };
    expect(manifest.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(manifest.config.mediaType).toBe('application/vnd.tsbuild.cache.config.v1+json');
    expect(manifest.layers).toHaveLength(4); // deps RUN, COPY --from, COPY, RUN
    const min = JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${minRef()}`], { encoding: 'utf8' })) as { layers: unknown[] };
    expect(min.layers).toHaveLength(3); // the target stage's steps only
  });

  it('runner B (its checkout elsewhere, fresh mtimes) runs no RUN step, says where each step came from, and pushes A\'s digest', () => {
    const b = runner('b');
    // Keys are portable: another path and other mtimes for the same content.
    const elsewhere = join(work, 'checkout-b', 'ctx');
    cpSync(ctx, elsewhere, { recursive: true });
    utimesSync(join(elsewhere, 'app.txt'), new Date(), new Date(2001, 1, 1));
    const { steps, stderr } = build(b, `${reg.host}/app-b:1`, ['--push', '--cache-from', `type=registry,ref=${maxRef()}`], elsewhere);
    expect(layerSteps(steps)).toEqual([
      'RUN echo deps > /deps && cat /proc/sys/kernel/random/uuid > /deps-id => cached',
      'COPY --from=deps /deps-id /deps-id => cached',
      'COPY app.txt /app.txt => cached',
      'RUN cat /app.txt > /app-copy && cat /proc/sys/kernel/random/uuid > /app-id => cached',
    ]);
    expect(steps.filter((s) => s.status === 'cached').every((s) => s.cacheFrom === maxRef())).toBe(true);
    expect(stderr).toContain(`Pulling ${reg.host}/library/busybox:stable`);
    expect(warnings(stderr)).toEqual([]);
    expect(skopeoDigest(`${reg.host}/app-b:1`)).toBe(digestA);
    // The step layers are mounted from the cache repository, not uploaded again.
    expect(stderr).toMatch(/Pushing blob sha256:[0-9a-f]{12} mounted from cache\/app/);
  });

  it('runner C, after a source change, reruns only the steps after that COPY; the first stage comes from the mode=max cache', () => {
    writeFileSync(join(ctx, 'app.txt'), 'version 2\n');
    try {
      const c = runner('c');
      const { steps } = build(c, 'app:c', ['--cache-from', `type=registry,ref=${maxRef()}`]);
      expect(layerSteps(steps)).toEqual([
        'RUN echo deps > /deps && cat /proc/sys/kernel/random/uuid > /deps-id => cached',
        'COPY --from=deps /deps-id /deps-id => cached',
        'COPY app.txt /app.txt => built',
        'RUN cat /app.txt > /app-copy && cat /proc/sys/kernel/random/uuid > /app-id => built',
      ]);
      // mode=min has only the target stage: the first stage's RUN runs again.
      const d = runner('d');
      const min = build(d, 'app:d', ['--cache-from', `type=registry,ref=${minRef()}`]);
      expect(layerSteps(min.steps)[0]).toMatch(/=> built$/);
    } finally {
      writeFileSync(join(ctx, 'app.txt'), 'version 1\n');
    }
  });

  it('the first --cache-from that has a step wins, and --progress json is pure JSON naming the ref and the pulls', () => {
    const e = runner('e');
    const r = tsbuild(e, ['build', '--progress', 'json', '--build-arg', `BASE=${reg.host}/library/busybox:stable`, '-f', join(ctx, 'Containerfile'), '-t', 'app:e',
      '--cache-from', `type=registry,ref=${minRef()}`, '--cache-from', `type=registry,ref=${maxRef()}`, ctx], { timeout: 240_000 });
    expect(r.status, r.stderr).toBe(0);
    const events = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const cached = events.filter((ev) => ev.type === 'cached');
    expect(cached.map((ev) => ev.cache)).toEqual([maxRef(), minRef(), minRef(), minRef()]);
    const pulls = events.filter((ev) => ev.type === 'pull' && ev.phase === 'done' && ev.status === 'done');
    expect(pulls.some((ev) => ev.image === `${reg.host}/library/busybox:stable`)).toBe(true);
    // Every step is a cache hit and nothing runs on them: no step layer is downloaded (lazy-layers.ts).
    expect(pulls.filter((ev) => ev.image === minRef() || ev.image === maxRef()).length).toBe(0);
    for (const p of pulls) expect(typeof p.bytes === 'number' && (p.bytes as number) > 0 && typeof p.durationMs === 'number').toBe(true);
    expect(r.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});

describe('other cache forms', () => {
  it('a runner under another SOURCE_DATE_EPOCH (a new commit) retimes the cache\'s layers instead of running the steps', () => {
    const ref = `${reg.host}/cache/app:epoch`;
    const e1 = 1_650_000_000;
    const e2 = e1 + 3600;
    const a = runner('epoch-a');
    build(a, 'app:epoch', ['--source-date-epoch', String(e1), '--cache-to', `type=registry,ref=${ref},mode=max`]);
    const b = runner('epoch-b');
    const { steps, stderr } = build(b, 'app:epoch', ['--source-date-epoch', String(e2), '--cache-from', `type=registry,ref=${ref}`]);
    const layered = steps.filter((s) => /^(RUN|COPY)/.test(s.text));
    expect(layered.map((s) => `${s.status} ${s.cacheFrom} ${s.retimed}`)).toEqual(Array(4).fill(`cached ${ref} true`));
    expect(warnings(stderr)).toEqual([]);
    // Not run (the RUN's random ID is runner A's), and stamped with the new epoch.
    const show = (root: string) => {
      const r = tsbuild(root, ['run', '--rm', 'app:epoch', 'sh', '-c', 'cat /app-id /deps-id; stat -c %Y /app-id /app.txt']);
      expect(r.status, r.stderr).toBe(0);
      return r.stdout.trim().split('\n');
    };
    const [idA, depsA] = show(a);
    expect(show(b)).toEqual([idA, depsA, String(e2), String(e2)]);
  });

  it('buildah\'s bare form round-trips', () => {
    const repo = `${reg.host}/cache/bare`;
    build(runner('bare-a'), 'app:bare', ['--cache-to', repo]);
    expect(skopeoDigest(`${repo}:buildcache`)).toMatch(/^sha256:/);
    const { steps } = build(runner('bare-b'), 'app:bare', ['--cache-from', repo]);
    expect(layerSteps(steps).every((s) => s.endsWith('=> cached'))).toBe(true);
  });

  it('type=local writes an OCI layout that round-trips', () => {
    const dir = join(work, 'local-cache');
    build(runner('local-a'), 'app:local', ['--cache-to', `type=local,dest=${dir},mode=max`]);
    // skopeo reads it as an OCI layout (the oracle for the layout's shape).
    const raw = JSON.parse(execFileSync('skopeo', ['inspect', '--raw', `oci:${dir}:latest`], { encoding: 'utf8' })) as { config: { mediaType: string } };
    expect(raw.config.mediaType).toBe('application/vnd.tsbuild.cache.config.v1+json');
    const { steps, stderr } = build(runner('local-b'), 'app:local', ['--cache-from', `type=local,src=${dir}`]);
    expect(layerSteps(steps).every((s) => s.endsWith('=> cached'))).toBe(true);
    expect(steps.filter((s) => s.status === 'cached').every((s) => s.cacheFrom === `local:${dir}`)).toBe(true);
    expect(warnings(stderr)).toEqual([]);
  });
});

describe('a bad cache ref is one warning and the build goes on', () => {
  const expectOneWarning = (stderr: string, pattern: RegExp) => {
    const w = warnings(stderr);
    expect(w, stderr).toHaveLength(1);
    expect(w[0]).toMatch(pattern);
  };

  it('401 from a registry that needs a login', () => {
    const { steps, stderr } = build(runner('401'), 'app:401', ['--cache-from', `type=registry,ref=${authReg.host}/cache/app:max`]);
    expectOneWarning(stderr, /unauthorized/);
    expect(layerSteps(steps).every((s) => s.endsWith('=> built'))).toBe(true);
  });

  it('500 from a failing server', () => {
    const root = runner('500');
    const { steps, stderr } = build(root, 'app:500', ['--cache-from', `type=registry,ref=${failingHost}/cache/app:max`]);
    expectOneWarning(stderr, /500/);
    expect(layerSteps(steps).every((s) => s.endsWith('=> built'))).toBe(true);
    // In json mode the warning is an event: stderr stays pure JSON.
    const r = tsbuild(root, ['build', '--progress', 'json', '--build-arg', `BASE=${reg.host}/library/busybox:stable`, '-f', join(ctx, 'Containerfile'), '-t', 'app:500',
      '--cache-from', `type=registry,ref=${failingHost}/cache/app:max`, ctx], { timeout: 240_000 });
    expect(r.status, r.stderr).toBe(0);
    const events = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as { type: string; text?: string });
    expect(events.filter((e) => e.type === 'warning').map((e) => e.text)).toEqual([expect.stringMatching(/not used: .*500/)]);
  });

  it('a failed export is an error, or one warning with ignore-error=true', () => {
    const root = runner('export-fail');
    const to = `type=registry,ref=${failingHost}/cache/app:max`;
    const failed = tsbuild(root, ['build', '--progress', 'plain', '--build-arg', `BASE=${reg.host}/library/busybox:stable`, '-f', join(ctx, 'Containerfile'), '-t', 'app:xf', '--cache-to', to, ctx], { timeout: 240_000 });
    expect(failed.status).not.toBe(0);
    const errors = failed.stderr.split('\n').filter((l) => l.startsWith('tsbuild: '));
    expect(errors, failed.stderr).toHaveLength(1);
    expect(errors[0]).toMatch(/^tsbuild: exporting cache to .* failed: .*500/);
    expect(failed.stderr).not.toMatch(/\n\s+at /);
    const { stderr } = build(root, 'app:xf', ['--cache-to', `${to},ignore-error=true`]);
    expectOneWarning(stderr, /exporting cache to .* failed/);
  });

  it('a corrupt cache record', async () => {
    const record = Buffer.from('{"tsbuildCache":1,"entries":[{"key":"not-a-key"}]}');
    await putRaw('cache/corrupt', 'x', [record], { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: desc(record, 'application/vnd.tsbuild.cache.config.v1+json'), layers: [] });
    const { steps, stderr } = build(runner('corrupt'), 'app:corrupt', ['--cache-from', `type=registry,ref=${reg.host}/cache/corrupt:x`]);
    expectOneWarning(stderr, /cache .*cache\/corrupt:x not used: .*bad key/);
    expect(layerSteps(steps).every((s) => s.endsWith('=> built'))).toBe(true);
  });

  it('an entry whose layer is not what it claims (diffID) is not used: the step runs', async () => {
    // Take the real max cache, point the `COPY app.txt` entry's diffID
    // elsewhere and drop the last RUN's entry: that RUN must run, so the
    // (lazy) layer below it is fetched and checked.
    const manifest = JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${reg.host}/cache/app:max`], { encoding: 'utf8' })) as { config: { digest: string }; layers: { digest: string }[] };
    const res = await fetch(`http://${reg.host}/v2/cache/app/blobs/${manifest.config.digest}`);
    const rec = JSON.parse(await res.text()) as { entries: { layer?: { diffId: string }; history: { created_by?: string } }[] };
    const copy = rec.entries.find((e) => e.history.created_by?.includes('COPY app.txt'))?.layer as { diffId: string };
    copy.diffId = `sha256:${'0'.repeat(64)}`;
    rec.entries = rec.entries.filter((e) => !e.history.created_by?.includes('cat /app.txt'));
    const record = Buffer.from(JSON.stringify(rec));
    await putRaw('cache/app', 'lying', [record], { ...manifest, config: desc(record, 'application/vnd.tsbuild.cache.config.v1+json') });
    const { steps, stderr } = build(runner('lying'), 'app:lying', ['--cache-from', `type=registry,ref=${reg.host}/cache/app:lying`]);
    expectOneWarning(stderr, /layer sha256:[0-9a-f]{64} not used: .*mismatch/i);
    // The stage is built again without that entry, and the step runs.
    const copied = layerSteps(steps).filter((l) => l.startsWith('COPY app.txt'));
    expect(copied.at(-1)).toMatch(/=> built$/);
  });
});
