// The store's crash rule through the real CLI (src/store/index.ts): a build
// names its step layers unproven (a built layer has no blob until a push asks
// for one: blob-on-demand.ts) and proves them with one syncfs
// when it names its image. kill -9 mid-build leaves a consistent store (no
// name over unproven content, every blob its digest), and the next build
// reuses the killed build's finished steps (same boot: nothing is torn).
// After a kernel crash (simulated: the killed build's marks moved to an
// earlier boot and its unproven files torn) those steps count as absent:
// the next build runs them again and its image holds the right bytes.
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxLayout, finished, hostMountsMentioning, tempRoot, tsbuild, tsbuildAsync } from '../fixtures.js';
import { buildOk, layerSteps } from './progress-steps.js';

const STICKY = 0o1000;
const BOOT = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
let work: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'tsbuild-durability-work-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function freshStore(name: string): { root: string; cleanup: () => void } {
  const s = tempRoot(`durability-${name}`);
  const loaded = tsbuild(s.root, ['load', '-i', busyboxLayout]);
  if (loaded.status !== 0) throw new Error(loaded.stderr);
  return s;
}

function containerfile(name: string, killAt: 'sleep' | 'none'): { file: string; ctx: string } {
  const ctx = join(work, name);
  mkdirSync(ctx, { recursive: true });
  writeFileSync(join(ctx, 'f.txt'), `copied ${name}\n`);
  const file = join(ctx, 'Containerfile');
  const delay = killAt === 'sleep' ? 30 : 0;
  writeFileSync(file, `FROM busybox:stable\nRUN echo first-${name} > /first\nCOPY f.txt /f.txt\nRUN sleep ${delay}\nRUN echo after > /after\n`);
  return { file, ctx };
}

/** Starts the build and kill -9s it once the sleeping step has started (the steps before it are done). */
async function killMidway(root: string, file: string, ctx: string): Promise<void> {
  const child = tsbuildAsync(root, ['build', '--progress', 'plain', '-f', file, '-t', 'killed:1', ctx]);
  const done = finished(child);
  let seen = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr?.on('data', (d: Buffer) => {
      seen += d.toString();
      if (/STEP 4\/5: RUN sleep/.test(seen)) resolve();
    });
    child.on('exit', () => reject(new Error(`the build ended before its sleep step:\n${seen}`)));
  });
  child.kill('SIGKILL');
  expect((await done).signal).toBe('SIGKILL');
}

const blobFiles = (root: string) => readdirSync(join(root, 'blobs/sha256')).map((h) => join(root, 'blobs/sha256', h));
const isSticky = (p: string) => (lstatSync(p).mode & STICKY) !== 0;
const layerDirs = (root: string) => readdirSync(join(root, 'layers')).map((h) => join(root, 'layers', h));

function expectBlobProven(path: string, d: string): void {
  expect(isSticky(path), `${d} is named but unproven`).toBe(false);
  expect(`sha256:${createHash('sha256').update(readFileSync(path)).digest('hex')}`).toBe(d);
}

type Rec = { manifestDigest: string; configDigest: string };

/** Crash rule 1: every named image's blobs are present, proven and whole. */
function expectNamesProven(root: string): void {
  const index = JSON.parse(readFileSync(join(root, 'images/index.json'), 'utf8')) as Rec[] | { images: Rec[] };
  const records = Array.isArray(index) ? index : index.images;
  expect(records.length).toBeGreaterThan(0);
  for (const r of records) {
    const path = (d: string) => join(root, 'blobs/sha256', d.slice(7));
    const manifest = JSON.parse(readFileSync(path(r.manifestDigest), 'utf8')) as { layers: { digest: string; mediaType: string }[] };
    for (const d of [r.manifestDigest, r.configDigest]) expectBlobProven(path(d), d);
    for (const { digest: d, mediaType } of manifest.layers) {
      // A built layer is named by its diffID (uncompressed, no blob): its layer dir is the proof.
      if (mediaType === 'application/vnd.oci.image.layer.v1.tar') expect(existsSync(join(root, 'layers', d.slice(7), 'layer.json')), `${d} is named but unproven`).toBe(true);
      else expectBlobProven(path(d), d);
    }
  }
}

/** Every layer dir carries its proof (layer.json) or a pending mark; every blob hashes to its name. */
function expectConsistent(root: string): void {
  for (const d of layerDirs(root)) expect(existsSync(join(d, 'layer.json')) || existsSync(join(d, 'pending.json')), d).toBe(true);
  for (const f of blobFiles(root)) expect(createHash('sha256').update(readFileSync(f)).digest('hex')).toBe(f.split('/').at(-1));
  expectNamesProven(root);
}

describe('kill -9 of a build (durability deferred to the end of the build)', () => {
  it('leaves a consistent store, and the next build reuses the finished steps and proves them', async () => {
    const { root, cleanup } = freshStore('kill');
    try {
      const { file, ctx } = containerfile('kill', 'sleep');
      await killMidway(root, file, ctx);
      expect(hostMountsMentioning(root)).toEqual([]);
      // The finished steps are there, unproven: the build had not named its image.
      // (Three layers: the two steps' and the base, unpacked by this build; the
      // steps wrote no blob, so no blob is unproven.)
      expect(blobFiles(root).filter(isSticky)).toEqual([]);
      expect(layerDirs(root).filter((d) => existsSync(join(d, 'pending.json'))).length).toBe(3);
      expectConsistent(root);

      writeFileSync(file, readFileSync(file, 'utf8').replace('sleep 30', 'sleep 0'));
      const steps = buildOk(root, ['-f', file, '-t', 'after:1', ctx]);
      expect(layerSteps(steps)).toEqual([
        'RUN echo first-kill > /first => cached',
        'COPY f.txt /f.txt => cached',
        'RUN sleep 0 => none',
        'RUN echo after > /after => built',
      ]);
      // Naming the image proved everything it names, the killed build's steps included.
      expect(blobFiles(root).filter(isSticky)).toEqual([]);
      expect(layerDirs(root).filter((d) => existsSync(join(d, 'pending.json')))).toEqual([]);
      expect(existsSync(join(root, 'pending', BOOT)) ? readdirSync(join(root, 'pending', BOOT)) : []).toEqual([]);
      expectConsistent(root);
      expect(tsbuild(root, ['run', '--rm', 'after:1', 'cat', '/first', '/f.txt', '/after']).stdout).toBe('first-kill\ncopied kill\nafter\n');
      expect(readdirSync(join(root, 'tmp'))).toEqual([]);
      expect(readdirSync(join(root, 'containers'))).toEqual([]);
    } finally {
      cleanup();
    }
  });

  it('after a (simulated) kernel crash the unproven steps are absent, run again, and replace what was torn', async () => {
    const { root, cleanup } = freshStore('crash');
    try {
      const { file, ctx } = containerfile('crash', 'sleep');
      await killMidway(root, file, ctx);
      // What a crash before the build's syncfs may leave: the marks of an earlier boot over torn files.
      expect(blobFiles(root).filter(isSticky)).toEqual([]); // built layers have no blob to tear
      // The two steps' layers and the base's, unpacked by the killed build: torn, it is unpacked again from its blob.
      const pendingLayers = layerDirs(root).filter((d) => existsSync(join(d, 'pending.json')));
      expect(pendingLayers.length).toBe(3);
      for (const d of pendingLayers) {
        const meta = JSON.parse(readFileSync(join(d, 'pending.json'), 'utf8')) as Record<string, unknown>;
        writeFileSync(join(d, 'pending.json'), JSON.stringify({ ...meta, bootId: 'an-earlier-boot' }));
        // lstat, never stat: a link in a layer (busybox's /linuxrc -> /bin/busybox) points at the host.
        for (const f of readdirSync(join(d, 'diff'))) if (lstatSync(join(d, 'diff', f)).isFile()) truncateSync(join(d, 'diff', f), 0);
      }
      mkdirSync(join(root, 'pending', BOOT), { recursive: true });
      renameSync(join(root, 'pending', BOOT), join(root, 'pending', 'an-earlier-boot'));
      expectNamesProven(root); // the base image's name never covered unproven content

      writeFileSync(file, readFileSync(file, 'utf8').replace('sleep 30', 'sleep 0'));
      const steps = buildOk(root, ['-f', file, '-t', 'after:1', ctx]);
      expect(layerSteps(steps)).toEqual([
        'RUN echo first-crash > /first => built',
        'COPY f.txt /f.txt => built',
        'RUN sleep 0 => none',
        'RUN echo after > /after => built',
      ]);
      expect(existsSync(join(root, 'pending', 'an-earlier-boot'))).toBe(false);
      expect(tsbuild(root, ['run', '--rm', 'after:1', 'cat', '/first', '/f.txt', '/after']).stdout).toBe('first-crash\ncopied crash\nafter\n');
      expectNamesProven(root);
      // The torn blobs and layers are not named by anything; prune removes them with the rest of the garbage.
      expect(tsbuild(root, ['prune']).status).toBe(0);
      expectConsistent(root);
      for (const d of layerDirs(root)) expect(readdirSync(d).sort(), d).toEqual(['diff', 'layer.json']);
    } finally {
      cleanup();
    }
  });
});

// A step's upper dir is read once, as its layer, and the store proves it with
// the build's one syncfs: its overlay is mounted `volatile`, so the unmount at
// the step's exit does not sync the whole upper file system (it did: perf
// showed ovl_sync_fs in every step's exit) and the step's own fsyncs are no-ops.
// A `run` container may be started again, and a volatile work dir refuses a
// second mount: its overlay is not volatile.
describe('volatile step overlays', () => {
  it('a RUN step sees a volatile root overlay; a run container does not', () => {
    const { root, cleanup } = freshStore('volatile');
    try {
      const ctx = join(work, 'volatile');
      mkdirSync(ctx, { recursive: true });
      const file = join(ctx, 'Containerfile');
      // The root mount's line in mountinfo: mount point "/" is its fifth field.
      writeFileSync(file, `FROM busybox:stable\nRUN awk '$5 == "/"' /proc/self/mountinfo > /root-mount\n`);
      buildOk(root, ['-f', file, '-t', 'volatile:1', ctx]);
      const inStep = tsbuild(root, ['run', '--rm', 'volatile:1', 'cat', '/root-mount']);
      expect(inStep.status, inStep.stderr).toBe(0);
      // An option of the super block (6.1 shows `volatile`, 6.18 `fsync=volatile`; the store path has the word too).
      expect(inStep.stdout).toMatch(/ overlay overlay .*,(fsync=)?volatile(,|\s|$)/);
      const inRun = tsbuild(root, ['run', '--rm', 'volatile:1', 'awk', '$5 == "/"', '/proc/self/mountinfo']);
      expect(inRun.status, inRun.stderr).toBe(0);
      expect(inRun.stdout).toMatch(/ overlay overlay /);
      expect(inRun.stdout).not.toMatch(/,(fsync=)?volatile(,|\s|$)/);
      expect(hostMountsMentioning(root)).toEqual([]);
    } finally {
      cleanup();
    }
  });
});
