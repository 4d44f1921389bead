// Issue 5 (build engine) and issue 9 against two oracles: every case of the
// corpus (test/fixtures/containerfiles/<case>/) is built by `tsbuild build`,
// by `buildah bud --layers` and by docker's BuildKit (a private dockerd
// 20.10, buildkit.ts); each oracle's image is exported (buildah: an OCI
// layout; BuildKit: `docker save`) and its flattened root filesystem (type,
// mode with setuid/setgid/sticky, owner, size, content hash, link target,
// device numbers, hard-link groups; never mtimes) and runtime config must be
// the same as tsbuild's. Zero differences is the bar: a failing case prints
// every differing path and field.
//
// Where an oracle does something docker users would not expect (buildah
// 1.28 often; BuildKit 20.10, an old BuildKit, now and then), the case says
// so in its case.json (buildahQuirks / buildahConfigQuirks, buildkitQuirks /
// buildkitConfigQuirks, each with the evidence): that path or field is
// checked against docker's behaviour instead, and the test also fails if the
// oracle stops differing there, so a stale quirk is noticed (oracle-diff.ts).
// Where buildah and BuildKit disagree, BuildKit's answer is docker's.
// buildahFormat/buildahArgs make buildah behave as docker where a flag can
// (ONBUILD and SHELL need the docker format; mknod needs CAP_MKNOD, in
// docker's default set).
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxLayout, tempRoot, tsbuild } from '../fixtures.js';
import { bud, buildahStore, loadBusybox, pushOciDir, type Buildah } from './buildah.js';
import { startBuildKit, type BuildKit } from './buildkit.js';
import { listCases, prepareContext, type Case, type CaseBuild } from './corpus.js';
import { readDockerArchive } from './docker-archive.js';
import { readLayout, type FsEntry, type ImageDescription, type OciConfig } from './oci-rootfs.js';
import { imageDifferences } from './oracle-diff.js';

/**
 * What buildah 1.28 leaves in a RUN step's layer and docker does not, so it
 * is not a difference when tsbuild lacks it:
 * - /etc/hosts, /etc/resolv.conf, /etc/hostname: bind-mount targets buildah
 *   creates (empty) for every RUN and commits; docker's and tsbuild's
 *   per-container init files are never committed.
 * - /run: the mount point of /run/.containerenv and /run/secrets. buildah
 *   empties it after each RUN but keeps the directory
 *   (containers/buildah#3525, #4242, and #5950: "RUN true touches /run,
 *   creates layer"); fixed only by buildah#6233, after Debian's 1.28.
 * Only exactly these artifacts are skipped: an empty file / a directory on
 * buildah's side, nothing on tsbuild's. Anything tsbuild itself leaves there,
 * or anything under /run, is still compared.
 */
function buildahRunArtifact(path: string, b: FsEntry | undefined, t: FsEntry | undefined): boolean {
  if (t !== undefined || b === undefined) return false;
  if (path === '/etc/hosts' || path === '/etc/resolv.conf' || path === '/etc/hostname') return b.type === 'file' && b.size === 0;
  if (path === '/run') return b.type === 'dir';
  return false;
}

/** buildah stamps every image it commits with this label; docker and tsbuild do not. */
function withoutBuildahLabel(c: OciConfig): OciConfig {
  const { 'io.buildah.version': _, ...labels } = c.Labels ?? {};
  return { ...c, Labels: labels };
}

let root: string;
let cleanupRoot: () => void;
let work: string;
let oracle: Buildah;
let buildkit: BuildKit;

beforeAll(async () => {
  ({ root, cleanup: cleanupRoot } = tempRoot('differential'));
  work = join(root, 'work');
  mkdirSync(work);
  const loaded = tsbuild(root, ['load', '-i', busyboxLayout]);
  if (loaded.status !== 0) throw new Error(`tsbuild load: ${loaded.stderr}`);
  oracle = buildahStore('differential');
  loadBusybox(oracle);
  // BuildKit gets the same busybox bytes as a docker-archive, tagged
  // docker.io/library/busybox:stable, so `FROM busybox:stable` resolves
  // locally and nothing touches the network.
  buildkit = await startBuildKit('differential');
  const archive = join(work, 'busybox.docker.tar');
  const saved = tsbuild(root, ['save', '--format', 'docker-archive', '-o', archive, 'busybox:stable']);
  if (saved.status !== 0) throw new Error(`tsbuild save: ${saved.stderr}`);
  await buildkit.docker(['load', '-i', archive]);
  rmSync(archive);
});

afterAll(async () => {
  await buildkit?.stop();
  oracle?.cleanup();
  cleanupRoot?.();
});

/** Builds `b` with tsbuild and reads the image back: once per build, for both lanes. */
async function buildOurs(c: Case, context: string, b: CaseBuild): Promise<ImageDescription> {
  const file = join(context, b.file ?? 'Containerfile');
  const buildArgs = Object.entries(b.buildArgs ?? {}).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]);
  const target = b.target ? ['--target', b.target] : [];
  const byTsbuild = tsbuild(root, ['build', '-f', file, '-t', b.tag, '--progress', 'plain', ...buildArgs, ...target, context], { timeout: 300_000 });
  expect(byTsbuild.stderr.trim().split('\n').at(-1), `tsbuild build ${c.name}/${b.tag} failed:\n${byTsbuild.stderr}`).not.toMatch(/^tsbuild: /);
  expect(byTsbuild.status, byTsbuild.stderr).toBe(0);
  const out = join(work, `${c.name}-${b.tag}.tsbuild`);
  const saved = tsbuild(root, ['save', '--format', 'oci-dir', '-o', out, b.tag], { timeout: 300_000 });
  expect(saved.status, saved.stderr).toBe(0);
  try {
    return await readLayout(out);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** buildah's image of `b`, compared with ours. */
async function buildahLane(c: Case, context: string, b: CaseBuild, ours: ImageDescription): Promise<string[]> {
  const file = join(context, b.file ?? 'Containerfile');
  const byBuildah = bud(oracle, { file, tag: b.tag, context, buildArgs: b.buildArgs ?? {}, extra: b.buildahArgs ?? [], ...(b.target ? { target: b.target } : {}), ...(b.buildahFormat ? { format: b.buildahFormat } : {}) });
  if (byBuildah.status !== 0) throw new Error(`buildah bud failed for ${c.name}/${b.tag} (the case itself is wrong):\n${byBuildah.stderr}`);
  const out = join(work, `${c.name}-${b.tag}.buildah`);
  pushOciDir(oracle, b.tag, out);
  let theirs: ImageDescription;
  try {
    theirs = await readLayout(out);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  theirs = { ...theirs, config: withoutBuildahLabel(theirs.config) };
  return imageDifferences({ name: 'buildah', quirks: b.buildahQuirks ?? [], configQuirks: b.buildahConfigQuirks ?? [], artifact: buildahRunArtifact }, theirs, ours);
}

/** BuildKit's image of `b` (`docker build`, then `docker save`), compared with ours. */
async function buildkitLane(c: Case, context: string, b: CaseBuild, ours: ImageDescription): Promise<string[]> {
  const file = join(context, b.file ?? 'Containerfile');
  const built = await buildkit.build({ file, context, tag: b.tag, buildArgs: b.buildArgs ?? {}, extra: b.buildkitArgs ?? [], ...(b.target ? { target: b.target } : {}) });
  if (built.code !== 0) throw new Error(`docker build (BuildKit) failed for ${c.name}/${b.tag} (the case itself is wrong):\n${built.stderr.split('\n').slice(-30).join('\n')}`);
  const out = join(work, `${c.name}-${b.tag}.docker.tar`);
  await buildkit.save(b.tag, out);
  let theirs: ImageDescription;
  try {
    theirs = await readDockerArchive(out);
  } finally {
    rmSync(out, { force: true });
  }
  return imageDifferences({ name: 'BuildKit', quirks: b.buildkitQuirks ?? [], configQuirks: b.buildkitConfigQuirks ?? [], dockerConfig: true }, theirs, ours);
}

for (const c of listCases()) {
  describe(`differential: ${c.name}`, () => {
    let context: string;
    beforeAll(() => {
      context = prepareContext(c, join(work, `ctx-${c.name}`));
    });

    for (const b of c.builds) {
      const how = [b.target && `--target ${b.target}`, b.buildArgs && `--build-arg ${Object.keys(b.buildArgs).join(',')}`].filter(Boolean).join(' ');
      // tsbuild builds once; both lanes compare with that image.
      let ours: Promise<ImageDescription> | undefined;
      const oursOnce = (): Promise<ImageDescription> => (ours ??= buildOurs(c, context, b));
      it(`${b.tag}${how ? ` (${how})` : ''}: same rootfs and config as buildah`, async () => {
        const diffs = await buildahLane(c, context, b, await oursOnce());
        expect(diffs, `${c.name}/${b.tag}: ${diffs.length} differences (buildah vs tsbuild):\n${diffs.join('\n')}`).toEqual([]);
      }, 600_000);
      it(`${b.tag}${how ? ` (${how})` : ''}: same rootfs and config as BuildKit`, async () => {
        const diffs = await buildkitLane(c, context, b, await oursOnce());
        expect(diffs, `${c.name}/${b.tag}: ${diffs.length} differences (BuildKit vs tsbuild):\n${diffs.join('\n')}`).toEqual([]);
      }, 600_000);
    }
  });
}
