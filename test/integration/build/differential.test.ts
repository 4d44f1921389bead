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
//
// A build may read stdin (`-f -`, `build - < context.tar[.gz]`, `build - <
// Containerfile`), take bare `--build-arg NAME`/`--label NAME`, secrets and
// an environment: corpus-invoke.ts spells it for each tool. A build that
// must fail (`fails`) fails in all three, tsbuild in one line naming the
// Containerfile line. A lane whose oracle lacks the feature (`buildahSkip`,
// `buildkitSkip`, with the reason) is not compared, but that oracle must
// still refuse the build, so one that gains the feature is noticed.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxLayout, expectOneLineError, tempRoot, tsbuild, tsbuildBin } from '../fixtures.js';
import { bud, buildahStore, loadBusybox, pushOciDir, type Buildah } from './buildah.js';
import { startBuildKit, type BuildKit } from './buildkit.js';
import { describeBuild, invocation } from '../../shared/corpus-invoke.js';
import { listCases, prepareContext, type Case, type CaseBuild } from '../../shared/corpus.js';
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

/** `tsbuild build` of `b`, with its stdin and environment. */
function tsbuildBuild(context: string, b: CaseBuild): SpawnSyncReturns<string> {
  const inv = invocation(b, context);
  return spawnSync(process.execPath, [tsbuildBin, '--root', root, 'build', '-t', b.tag, '--progress', 'plain', ...inv.flags, inv.context], {
    encoding: 'utf8', input: inv.input ?? '', timeout: 300_000, maxBuffer: 1 << 26, env: { ...process.env, ...inv.env },
  });
}

/** Builds `b` with tsbuild and reads the image back: once per build, for both lanes. */
async function buildOurs(c: Case, context: string, b: CaseBuild): Promise<ImageDescription> {
  const byTsbuild = tsbuildBuild(context, b);
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

/** A build the case expects to fail: tsbuild's one error line, and no image made. */
function failOurs(c: Case, context: string, b: CaseBuild & { fails: NonNullable<CaseBuild['fails']> }): void {
  const r = tsbuildBuild(context, b);
  expect(r.status, `tsbuild built ${c.name}/${b.tag}, but the case expects a failure (${b.fails.why})`).not.toBe(0);
  const errors = r.stderr.split('\n').filter((l) => l.trim() !== '' && !/^(STEP |--> )/.test(l));
  expectOneLineError(errors.join('\n'));
  expect(errors[0]).toMatch(new RegExp(b.fails.error));
  expect(tsbuild(root, ['inspect', b.tag]).status, 'a failed build made no image').not.toBe(0);
}

function budOf(context: string, b: CaseBuild): SpawnSyncReturns<string> {
  const inv = invocation(b, context);
  return bud(oracle, {
    tag: b.tag, context: inv.context, extra: [...inv.flags, ...(b.buildahArgs ?? [])], env: inv.env,
    ...(inv.input ? { input: inv.input } : {}), ...(b.buildahFormat ? { format: b.buildahFormat } : {}),
  });
}

/** buildah's image of `b`, compared with ours. */
async function buildahLane(c: Case, context: string, b: CaseBuild, ours: ImageDescription): Promise<string[]> {
  const byBuildah = budOf(context, b);
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

function buildkitBuild(context: string, b: CaseBuild) {
  const inv = invocation(b, context);
  return buildkit.build({ context: inv.context, tag: b.tag, extra: [...inv.flags, ...(b.buildkitArgs ?? [])], env: inv.env, ...(inv.input ? { input: inv.input } : {}) });
}

/** BuildKit's image of `b` (`docker build`, then `docker save`), compared with ours. */
async function buildkitLane(c: Case, context: string, b: CaseBuild, ours: ImageDescription): Promise<string[]> {
  const built = await buildkitBuild(context, b);
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
      const how = describeBuild(b);
      const name = `${b.tag}${how ? ` (${how})` : ''}`;
      if (b.fails) {
        const fails = b.fails;
        // All three must refuse the build; tsbuild in one line naming the
        // Containerfile line. An oracle that lacks the feature (a skip) must
        // fail it too, for its own reason, which the name says.
        it(`${name}: fails in tsbuild (one line) and in buildah${b.buildahSkip ? ` (which lacks the feature: ${b.buildahSkip})` : ''}`, () => {
          failOurs(c, context, { ...b, fails });
          const r = budOf(context, b);
          expect(r.status, `buildah built ${c.name}/${b.tag}, but the case expects a failure:\n${r.stderr}`).not.toBe(0);
        }, 600_000);
        it(`${name}: fails in BuildKit too${b.buildkitSkip ? ` (which lacks the feature: ${b.buildkitSkip})` : ''}`, async () => {
          const r = await buildkitBuild(context, b);
          expect(r.code, `BuildKit built ${c.name}/${b.tag}, but the case expects a failure:\n${r.stderr}`).not.toBe(0);
        }, 600_000);
        continue;
      }
      // tsbuild builds once; both lanes compare with that image.
      let ours: Promise<ImageDescription> | undefined;
      const oursOnce = (): Promise<ImageDescription> => (ours ??= buildOurs(c, context, b));
      if (b.buildahSkip) {
        const why = b.buildahSkip;
        // Not compared: buildah lacks the feature. It must still refuse the build, so a buildah that gains it is noticed.
        it(`${name}: builds; buildah lacks the feature (${why})`, async () => {
          await oursOnce();
          const r = budOf(context, b);
          expect(r.status, `buildah now builds ${c.name}/${b.tag}: drop buildahSkip and compare it (${why})`).not.toBe(0);
        }, 600_000);
      } else {
        it(`${name}: same rootfs and config as buildah`, async () => {
          const diffs = await buildahLane(c, context, b, await oursOnce());
          expect(diffs, `${c.name}/${b.tag}: ${diffs.length} differences (buildah vs tsbuild):\n${diffs.join('\n')}`).toEqual([]);
        }, 600_000);
      }
      if (b.buildkitSkip) {
        const why = b.buildkitSkip;
        it(`${name}: builds; BuildKit lacks the feature (${why})`, async () => {
          await oursOnce();
          const r = await buildkitBuild(context, b);
          expect(r.code, `BuildKit now builds ${c.name}/${b.tag}: drop buildkitSkip and compare it (${why})`).not.toBe(0);
        }, 600_000);
      } else {
        it(`${name}: same rootfs and config as BuildKit`, async () => {
          const diffs = await buildkitLane(c, context, b, await oursOnce());
          expect(diffs, `${c.name}/${b.tag}: ${diffs.length} differences (BuildKit vs tsbuild):\n${diffs.join('\n')}`).toEqual([]);
        }, 600_000);
      }
    }
  });
}
