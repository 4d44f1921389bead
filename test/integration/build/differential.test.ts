// Issue 5 (build engine) against buildah as the oracle: every case of the
// corpus (test/fixtures/containerfiles/<case>/) is built by `buildah bud
// --layers` and by `tsbuild build`, both images are exported as OCI
// layouts, and the flattened root filesystems (type, mode with
// setuid/setgid/sticky, owner, size, content hash, link target, device
// numbers, hard-link groups; never mtimes) and the runtime configs must be
// the same. Zero differences is the bar: a failing case prints every
// differing path and field.
//
// Where buildah 1.28 does something docker would not, the case says so in
// its case.json (buildahQuirks for paths, buildahConfigQuirks for config
// fields, each with the evidence): that path or field is checked against
// docker's behaviour instead, and the test also fails if buildah stops
// differing there, so a stale quirk is noticed. buildahFormat/buildahArgs
// make buildah behave as docker where a flag can (ONBUILD and SHELL need the
// docker format; mknod needs CAP_MKNOD, in docker's default set).
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxLayout, tempRoot, tsbuild } from '../fixtures.js';
import { bud, buildahStore, loadBusybox, pushOciDir, type Buildah } from './buildah.js';
import { listCases, prepareContext, type BuildahQuirk, type Case, type CaseBuild } from './corpus.js';
import { comparableConfig, diffConfig, diffRootfs, readLayout, type FsEntry, type OciConfig } from './oci-rootfs.js';

const NAMES: [string, string] = ['buildah', 'tsbuild'];

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

beforeAll(() => {
  ({ root, cleanup: cleanupRoot } = tempRoot('differential'));
  work = join(root, 'work');
  mkdirSync(work);
  const loaded = tsbuild(root, ['load', '-i', busyboxLayout]);
  if (loaded.status !== 0) throw new Error(`tsbuild load: ${loaded.stderr}`);
  oracle = buildahStore('differential');
  loadBusybox(oracle);
});

afterAll(() => {
  oracle?.cleanup();
  cleanupRoot?.();
});

/** Builds `b` with both tools and returns every difference, as readable lines. */
async function buildBoth(c: Case, context: string, b: CaseBuild): Promise<string[]> {
  const file = join(context, b.file ?? 'Containerfile');
  const buildArgs = Object.entries(b.buildArgs ?? {}).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]);
  const target = b.target ? ['--target', b.target] : [];

  const byBuildah = bud(oracle, { file, tag: b.tag, context, buildArgs: b.buildArgs ?? {}, extra: b.buildahArgs ?? [], ...(b.target ? { target: b.target } : {}), ...(b.buildahFormat ? { format: b.buildahFormat } : {}) });
  if (byBuildah.status !== 0) throw new Error(`buildah bud failed for ${c.name}/${b.tag} (the case itself is wrong):\n${byBuildah.stderr}`);
  const byTsbuild = tsbuild(root, ['build', '-f', file, '-t', b.tag, '--progress', 'plain', ...buildArgs, ...target, context], { timeout: 300_000 });
  expect(byTsbuild.stderr.trim().split('\n').at(-1), `tsbuild build ${c.name}/${b.tag} failed:\n${byTsbuild.stderr}`).not.toMatch(/^tsbuild: /);
  expect(byTsbuild.status, byTsbuild.stderr).toBe(0);

  const out = join(work, `${c.name}-${b.tag}`);
  pushOciDir(oracle, b.tag, `${out}.buildah`);
  const saved = tsbuild(root, ['save', '--format', 'oci-dir', '-o', `${out}.tsbuild`, b.tag], { timeout: 300_000 });
  expect(saved.status, saved.stderr).toBe(0);

  const [x, y] = await Promise.all([readLayout(`${out}.buildah`), readLayout(`${out}.tsbuild`)]);
  rmSync(`${out}.buildah`, { recursive: true, force: true });
  rmSync(`${out}.tsbuild`, { recursive: true, force: true });
  const quirks = new Map((b.buildahQuirks ?? []).map((q) => [q.path, q]));
  const quirkDiffs = (b.buildahQuirks ?? []).flatMap((q) => quirkDifferences(q, x.rootfs.get(q.path), y.rootfs.get(q.path)));
  const ignore = (p: string, be?: FsEntry, te?: FsEntry): boolean => quirks.has(p) || buildahRunArtifact(p, be, te);
  const configQuirks = b.buildahConfigQuirks ?? [];
  const bc = comparableConfig(withoutBuildahLabel(x.config));
  const tc = comparableConfig(y.config);
  const configQuirkDiffs = configQuirks.flatMap((q) => {
    const out: string[] = [];
    if (JSON.stringify(tc[q.field]) !== JSON.stringify(q.expected)) out.push(`config.${q.field}: tsbuild=${JSON.stringify(tc[q.field])} but docker's is ${JSON.stringify(q.expected)} (${q.why})`);
    if (JSON.stringify(bc[q.field]) === JSON.stringify(q.expected)) out.push(`config.${q.field}: buildah now does what docker does; drop the buildahConfigQuirks entry`);
    return out;
  });
  return [
    ...diffRootfs(x.rootfs, y.rootfs, NAMES, ignore),
    ...quirkDiffs,
    ...diffConfig(withoutBuildahLabel(x.config), y.config, NAMES, new Set(configQuirks.map((q) => q.field))),
    ...configQuirkDiffs,
  ];
}

/** A documented buildah quirk: tsbuild must do what docker does, and buildah must still differ. */
function quirkDifferences(q: BuildahQuirk, b: FsEntry | undefined, t: FsEntry | undefined): string[] {
  const fields = Object.entries(q.expected) as [keyof FsEntry, unknown][];
  const out: string[] = [];
  const bad = fields.filter(([k, v]) => t?.[k] !== v);
  if (bad.length > 0) out.push(`${q.path}: tsbuild=${JSON.stringify(t && Object.fromEntries(fields.map(([k]) => [k, t[k]])))} but docker's behaviour is ${JSON.stringify(q.expected)} (${q.why})`);
  if (b && fields.every(([k, v]) => b[k] === v)) out.push(`${q.path}: buildah now does what docker does; drop the buildahQuirks entry and compare it again`);
  return out;
}

for (const c of listCases()) {
  describe(`differential: ${c.name}`, () => {
    let context: string;
    beforeAll(() => {
      context = prepareContext(c, join(work, `ctx-${c.name}`));
    });

    for (const b of c.builds) {
      const how = [b.target && `--target ${b.target}`, b.buildArgs && `--build-arg ${Object.keys(b.buildArgs).join(',')}`].filter(Boolean).join(' ');
      it(`${b.tag}${how ? ` (${how})` : ''}: same rootfs and config as buildah`, async () => {
        const diffs = await buildBoth(c, context, b);
        expect(diffs, `${c.name}/${b.tag}: ${diffs.length} differences (buildah vs tsbuild):\n${diffs.join('\n')}`).toEqual([]);
      }, 600_000);
    }
  });
}
