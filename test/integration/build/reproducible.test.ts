// Reproducible images through the real CLI: with one SOURCE_DATE_EPOCH, two
// stores building at different times, after a touch of every context file,
// with --no-cache and under another umask, give one manifest digest, and
// both stores push one manifest digest (read back by skopeo from Debian's
// docker-registry; the local manifest names the layers uncompressed, the
// pushed one names their gzip blobs, made on demand the same way in both). `created`, the new history entries and every mtime of the new layers
// (files, dirs, symlinks, whiteouts, opaque markers) equal the epoch; another
// epoch retimes the cached layers (no step runs) into the image a --no-cache
// build of that epoch makes. A git work tree as context gives its HEAD commit
// time by default, `--source-date-epoch now` opts out, and without any epoch
// a fully cached rebuild keeps its image ID (no `<none>` images).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxLayout, tempRoot, tsbuild, tsbuildBin } from '../fixtures.js';
import { startRegistry, type RegistryServer } from '../registry-server.js';
import { skopeoDigest } from '../registry/oci-layout.js';
import { parseSteps } from './progress-steps.js';

const EPOCH = 1_600_000_000;
const CONTAINERFILE = `FROM busybox:stable
ENV APP=/app
RUN mkdir -p /var/lib/x && echo one > /var/lib/x/one && ln -s /var/lib/x/one /one-link && ln /var/lib/x/one /hard && rm /bin/true && rm -rf /home && mkdir /home && echo n > /home/new
COPY app /app/
COPY top.txt /
WORKDIR /work/dir
RUN echo "$APP" > /work/dir/app-path
LABEL k=v
`;

const roots: { root: string; cleanup: () => void }[] = [];
let registry: RegistryServer;
let ctx: string;

/** The environment without SOURCE_DATE_EPOCH, plus `extra`. */
function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const e = { ...process.env, ...extra };
  if (!('SOURCE_DATE_EPOCH' in extra)) delete e.SOURCE_DATE_EPOCH;
  return e;
}

function newRoot(): string {
  const r = tempRoot('repro');
  roots.push(r);
  const loaded = tsbuild(r.root, ['load', '-i', busyboxLayout]);
  expect(loaded.status, loaded.stderr).toBe(0);
  return r.root;
}

function build(root: string, args: string[], opts: { env?: NodeJS.ProcessEnv; umask?: string } = {}): { id: string; stderr: string } {
  const argv = ['--root', root, 'build', '--progress', 'plain', ...args];
  // A umask set in a shell that then execs the CLI, as a CI job's shell would.
  const r = opts.umask
    ? spawnSync('/bin/sh', ['-c', `umask ${opts.umask} && exec "$@"`, 'sh', process.execPath, tsbuildBin, ...argv], { encoding: 'utf8', env: opts.env ?? env(), timeout: 180_000 })
    : spawnSync(process.execPath, [tsbuildBin, ...argv], { encoding: 'utf8', env: opts.env ?? env(), timeout: 180_000 });
  expect(r.status, `build ${args.join(' ')}:\n${r.stderr}`).toBe(0);
  return { id: r.stdout.trim(), stderr: r.stderr };
}

function inspect(root: string, image: string): { digest: string; config: { created?: string; history: { created?: string; created_by?: string }[]; rootfs: { diff_ids: string[] } }; manifest: { layers: { digest: string }[] } } {
  const r = tsbuild(root, ['inspect', image]);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

interface TarEntry { name: string; mtime: number; type: string }

/** The entries of each layer of `image`, read from a `tsbuild save --format oci-dir` of it. */
async function layerEntries(root: string, image: string): Promise<TarEntry[][]> {
  const out = join(root, `saved-${Date.now()}`);
  const r = tsbuild(root, ['save', '--format', 'oci-dir', '-o', out, image]);
  expect(r.status, r.stderr).toBe(0);
  const blob = (d: string) => join(out, 'blobs', 'sha256', d.slice('sha256:'.length));
  const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  const manifest = JSON.parse(readFileSync(blob(index.manifests[0]?.digest as string), 'utf8')) as { layers: { digest: string }[] };
  const layers: TarEntry[][] = [];
  for (const l of manifest.layers) {
    const entries: TarEntry[] = [];
    const ex = tar.extract();
    ex.on('entry', (h, stream, next) => {
      entries.push({ name: h.name, mtime: Math.floor((h.mtime as Date).getTime() / 1000), type: h.type as string });
      stream.resume();
      stream.on('end', next);
    });
    await new Promise<void>((resolve, reject) => {
      ex.on('finish', resolve);
      ex.on('error', reject);
      Readable.from([readFileSync(blob(l.digest))]).pipe(createGunzip()).on('error', reject).pipe(ex);
    });
    layers.push(entries);
  }
  return layers;
}

function touchAll(dir: string): void {
  const now = new Date();
  for (const name of readdirSync(dir, { recursive: true }) as string[]) utimesSync(join(dir, name), now, now);
  utimesSync(dir, now, now);
}

function makeContext(dir: string): void {
  mkdirSync(join(dir, 'app', 'sub'), { recursive: true });
  writeFileSync(join(dir, 'app', 'main.sh'), '#!/bin/sh\necho main\n', { mode: 0o755 });
  writeFileSync(join(dir, 'app', 'sub', 'data.txt'), 'data\n');
  writeFileSync(join(dir, 'top.txt'), 'top\n');
  writeFileSync(join(dir, 'Containerfile'), CONTAINERFILE);
}

beforeAll(async () => {
  registry = await startRegistry();
  const work = tempRoot('repro-ctx');
  roots.push(work);
  ctx = join(work.root, 'ctx');
  makeContext(ctx);
}, 120_000);

afterAll(async () => {
  await registry?.stop();
  for (const r of roots) r.cleanup();
});

describe('SOURCE_DATE_EPOCH', () => {
  let first: { root: string; id: string; digest: string };
  let secondRoot: string;

  it('sets created, the new history entries and every new-layer mtime to the epoch', async () => {
    const root = newRoot();
    const iid = join(root, 'iid');
    const meta = join(root, 'meta.json');
    const { id } = build(root, ['-t', 'repro:1', '--iidfile', iid, '--metadata-file', meta, ctx], { env: env({ SOURCE_DATE_EPOCH: String(EPOCH) }) });
    const img = inspect(root, 'repro:1');
    first = { root, id, digest: img.digest };
    expect(readFileSync(iid, 'utf8')).toBe(id);
    const m = JSON.parse(readFileSync(meta, 'utf8')) as Record<string, unknown>;
    expect(m['containerimage.config.digest']).toBe(id);
    expect(m['containerimage.digest']).toBe(img.digest);
    expect(m['image.name']).toBe('docker.io/library/repro:1');
    expect(m['tsbuild.source-date-epoch']).toEqual({ seconds: EPOCH, source: 'env' });
    const steps = m['tsbuild.steps'] as { instruction: string; cached: boolean; durationMs: number }[];
    expect(steps.map((s) => s.instruction)).toEqual(CONTAINERFILE.trim().split('\n'));
    expect(steps.every((s) => !s.cached && s.durationMs >= 0)).toBe(true);

    const iso = new Date(EPOCH * 1000).toISOString().replace('.000Z', 'Z');
    expect(img.config.created).toBe(iso);
    const base = inspect(root, 'busybox:stable');
    const baseHistory = base.config.history.length;
    expect(img.config.history.slice(0, baseHistory)).toEqual(base.config.history); // the base keeps its own times
    expect(img.config.history.slice(baseHistory).map((h) => h.created)).toEqual(Array(7).fill(iso));

    const layers = await layerEntries(root, 'repro:1');
    expect(img.manifest.layers[0]?.digest).toBe(base.manifest.layers[0]?.digest);
    const fresh = layers.slice(1).flat();
    // Everything this build made: RUN's files, link, hard link, whiteout and opaque dir, COPY's tree, WORKDIR's dirs.
    for (const name of ['var/lib/x/one', 'one-link', 'hard', 'bin/.wh.true', 'home/.wh..wh..opq', 'home/new', 'app/main.sh', 'app/sub/data.txt', 'top.txt', 'work/dir', 'work/dir/app-path']) {
      expect(fresh.map((e) => e.name.replace(/\/$/, '')), name).toContain(name);
    }
    expect(fresh.filter((e) => e.mtime !== EPOCH)).toEqual([]);
    expect(new Set(fresh.map((e) => e.type))).toEqual(new Set(['directory', 'file', 'symlink', 'link']));
    // The unpacked layers `run` uses show the same times as the blobs.
    const r = tsbuild(root, ['run', '--rm', 'repro:1', 'stat', '-c', '%Y', '/var/lib/x/one', '/app/main.sh', '/work/dir']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([String(EPOCH), String(EPOCH), String(EPOCH)]);
  });

  it('gives the same digest on another store, later, after a touch, with --no-cache and under another umask', () => {
    touchAll(ctx);
    const root = newRoot();
    const { id } = build(root, ['--no-cache', '--source-date-epoch', String(EPOCH), '-t', 'repro:2', ctx], { umask: '077' });
    secondRoot = root;
    expect(id).toBe(first.id);
    expect(inspect(root, 'repro:2').digest).toBe(first.digest);

    // Again in the first store: every step is cached, and the image is the one it was.
    const again = build(first.root, ['--build-arg', `SOURCE_DATE_EPOCH=${EPOCH}`, '-t', 'repro:3', ctx], { umask: '002' });
    expect(again.id).toBe(first.id);
    expect(parseSteps(again.stderr).filter((s) => /^(RUN|COPY)/.test(s.text)).map((s) => s.status)).toEqual(['cached', 'cached', 'cached', 'cached']);
  });

  it('pushes one digest from both stores: the registry serves the manifest built in each', async () => {
    const dest = `${registry.host}/repro/app:1`;
    const meta = join(first.root, 'push-meta.json');
    const { id } = build(first.root, ['--push', '-t', dest, '--metadata-file', meta, ctx], { env: env({ SOURCE_DATE_EPOCH: String(EPOCH) }) });
    expect(id).toBe(first.id);
    const pushed = await skopeoDigest(dest);
    const m = JSON.parse(readFileSync(meta, 'utf8')) as Record<string, unknown>;
    expect(m['tsbuild.pushed']).toEqual([{ reference: dest, digest: pushed }]);
    expect((m['tsbuild.steps'] as { cached: boolean; cache?: string; instruction: string }[]).filter((s) => s.cached).map((s) => s.cache)).toEqual(['local', 'local', 'local', 'local', 'local']);
    // The other store, which never compressed anything, pushes the same bytes.
    const dest2 = `${registry.host}/repro/app:2`;
    const r = tsbuild(secondRoot, ['push', '-q', 'repro:2', dest2]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(pushed);
    expect(await skopeoDigest(dest2)).toBe(pushed);
    // Pulled into a third store, the image is the one built: same ID and manifest digest as pushed.
    const third = tempRoot('repro-pull');
    roots.push(third);
    const pulled = tsbuild(third.root, ['pull', '-q', dest2]);
    expect(pulled.status, pulled.stderr).toBe(0);
    const img = inspect(third.root, dest2);
    expect(img.digest).toBe(pushed);
    expect(img.config.rootfs.diff_ids).toEqual(inspect(first.root, 'repro:1').config.rootfs.diff_ids);
  });

  it('is part of the cache keys: another epoch retimes the layer steps to its own times, as a --no-cache build makes them', async () => {
    const other = EPOCH + 86_400;
    const { id, stderr } = build(first.root, ['--source-date-epoch', String(other), '-t', 'repro:other', ctx]);
    expect(id).not.toBe(first.id);
    // The context was touched after both epochs, so no step runs: each layer is the old one retimed (retime.ts).
    const layerStepsOut = parseSteps(stderr).filter((s) => /^(RUN|COPY)/.test(s.text));
    expect(layerStepsOut.map((s) => `${s.status}${s.retimed ? ' retimed' : ''}`)).toEqual(Array(4).fill('cached retimed'));
    const fresh = (await layerEntries(first.root, 'repro:other')).slice(1).flat();
    expect(fresh.filter((e) => e.mtime !== other)).toEqual([]);
    // Exactly what a fresh store builds from scratch under that epoch.
    const root = newRoot();
    const scratch = build(root, ['--no-cache', '--source-date-epoch', String(other), '-t', 'repro:other', ctx]);
    expect(scratch.id).toBe(id);
    expect(inspect(root, 'repro:other').digest).toBe(inspect(first.root, 'repro:other').digest);
  });

  it('a failed build leaves no stale --iidfile or --metadata-file behind', () => {
    const bad = join(first.root, 'bad');
    mkdirSync(bad);
    writeFileSync(join(bad, 'Containerfile'), 'FROM busybox:stable\nRUN false\n');
    const iid = join(first.root, 'iid');
    const meta = join(first.root, 'meta.json');
    expect(existsSync(iid) && existsSync(meta)).toBe(true); // from the first build
    const r = tsbuild(first.root, ['build', '--iidfile', iid, '--metadata-file', meta, bad], { env: env() });
    expect(r.status).not.toBe(0);
    expect(existsSync(iid) || existsSync(meta)).toBe(false);
  });

  it('rejects a malformed epoch with one line', () => {
    const r = tsbuild(first.root, ['build', '--source-date-epoch', 'yesterday', ctx]);
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim()).toBe('tsbuild: invalid --source-date-epoch "yesterday": expected seconds since 1970 (an integer) or "now"');
  });
});

describe('without SOURCE_DATE_EPOCH', () => {
  it('a git work tree gives its HEAD commit time; --source-date-epoch now opts out', async () => {
    const root = newRoot();
    const repo = join(root, 'repo');
    makeContext(join(repo, 'svc'));
    const commitTime = 1_650_000_000;
    const gitEnv = env({ GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@e', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@e', GIT_AUTHOR_DATE: `${commitTime} +0000`, GIT_COMMITTER_DATE: `${commitTime} +0000`, GIT_CONFIG_NOSYSTEM: '1', HOME: root });
    for (const args of [['init', '-q', '-b', 'main'], ['add', '.'], ['commit', '-q', '-m', 'x']]) execFileSync('git', args, { cwd: repo, env: gitEnv });
    // The context is a subdirectory of the work tree: the build takes the repository's HEAD.
    const meta = join(root, 'meta.json');
    build(root, ['-t', 'git:1', '--metadata-file', meta, join(repo, 'svc')]);
    const img = inspect(root, 'git:1');
    expect(img.config.created).toBe(new Date(commitTime * 1000).toISOString().replace('.000Z', 'Z'));
    expect((JSON.parse(readFileSync(meta, 'utf8')) as Record<string, unknown>)['tsbuild.source-date-epoch']).toEqual({ seconds: commitTime, source: 'git' });
    const fresh = (await layerEntries(root, 'git:1')).slice(1).flat();
    expect(fresh.filter((e) => e.mtime !== commitTime)).toEqual([]);

    const before = Math.floor(Date.now() / 1000);
    build(root, ['-t', 'git:now', '--source-date-epoch', 'now', join(repo, 'svc')]);
    const now = inspect(root, 'git:now');
    expect(Date.parse(now.config.created as string) / 1000).toBeGreaterThanOrEqual(before);
    // The app's files keep the mtimes they have in the context.
    const app = (await layerEntries(root, 'git:now')).flat().find((e) => e.name === 'app/main.sh');
    expect(app?.mtime).toBe(Math.floor(statSync(join(repo, 'svc', 'app', 'main.sh')).mtimeMs / 1000));
  });

  it('a fully cached rebuild gives the same image ID and no <none> image', () => {
    const root = newRoot();
    const a = build(root, ['-t', 'plain:1', ctx]);
    const b = build(root, ['-t', 'plain:1', ctx]);
    expect(b.id).toBe(a.id);
    const img = inspect(root, 'plain:1');
    // Config-only steps take the times of the layer steps around them, as BuildKit gives them.
    expect(img.config.history.every((h) => typeof h.created === 'string')).toBe(true);
    expect(img.config.created).toBe(img.config.history.at(-1)?.created);
    const images = JSON.parse(tsbuild(root, ['images', '--format', 'json']).stdout) as { id: string; names: string[] }[];
    expect(images.filter((i) => i.names.length === 0)).toEqual([]);
  });
});
