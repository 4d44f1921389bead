// Differential check against buildah (the oracle, never used by the
// product): the same COPY steps built by `buildah bud` and by applyCopy
// must produce layers with the same paths, types, modes, owners and link
// targets. Times are not compared (created directories get the build time
// in both). Cases where tsbuild deliberately differs from buildah 1.28 are
// left out and recorded here instead:
// - buildah 1.28 drops setuid/setgid bits of copied files (it chowns after
//   chmod); tsbuild keeps them, as docker does.
// - buildah 1.28 resets the owner of an existing destination directory to
//   the --chown user (or root); tsbuild keeps the image's metadata for
//   directories it did not copy, as docker does.
// - buildah 1.28 gives `COPY --from` files root's ownership; tsbuild keeps
//   the source's, as docker/buildkit do.
// - buildah 1.28 copies hard-linked sources as separate files; tsbuild
//   keeps the link.
// - buildah 1.28 accepts several sources into a destination without a
//   trailing `/`; tsbuild refuses, as docker does.
// - buildah 1.28 replaces an image's symlink-to-directory (a usrmerge /lib)
//   with a directory when a copied tree has one; tsbuild goes through it.
// What buildah does and tsbuild matches: named-source links are followed;
// links inside copied trees are kept; --chown applies to copied entries and
// to the directories the step creates for the destination; --chmod applies
// to copied files and directories but not to created ones nor to links;
// the destination directory of a directory copy is created 0755 (the
// source directory's own mode is not copied); ADD keeps an archive's owners
// even with --chown, which only applies to created directories.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, createReadStream, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyCopy } from '../../../../src/build/copy/index.js';
import type { AddInstruction, CopyInstruction } from '../../../../src/build/index.js';
import { busyboxRootfs } from '../../fixtures.js';
import { addIns, cleanupTemp, copyIns, tempDir, tree } from '../../../shared/copy-steps.js';

const tag = `localhost/tsbuild-copy-diff-${process.pid}`;

const STEPS: Array<[string, CopyInstruction | AddInstruction]> = [
  ['COPY --chown=alice:staff src/file /new/deep/file', copyIns(['src/file'], '/new/deep/file', { chown: 'alice:staff' })],
  ['COPY --chmod=751 src/dir /chm/', copyIns(['src/dir'], '/chm/', { chmod: '751' })],
  ['COPY src/dir /plain', copyIns(['src/dir'], '/plain')],
  ['COPY src/link src/file /multi/', copyIns(['src/link', 'src/file'], '/multi/')],
  ['COPY src/file /usr/local/bin/', copyIns(['src/file'], '/usr/local/bin/')],
  ['COPY --chown=daemon src/dir /owned/x/', copyIns(['src/dir'], '/owned/x/', { chown: 'daemon' })],
  ['COPY src/file /etc/flink', copyIns(['src/file'], '/etc/flink')],
  ['ADD --chown=daemon:staff a.tar /ad2', addIns(['a.tar'], '/ad2', { chown: 'daemon:staff' })],
];

function makeContext(): string {
  const ctx = tempDir('tsb-diff-');
  cpSync(busyboxRootfs, join(ctx, 'rootfs'), { recursive: true, verbatimSymlinks: true });
  tree(join(ctx, 'rootfs'), { 'opt/bin/': null, 'usr/local/bin -> /opt/bin': null, 'etc/target': 't', 'etc/flink -> /etc/target': null });
  tree(ctx, { 'src/file': 'hi\n', 'src/dir/a': 'a', 'src/dir/sub/b': 'b', 'src/dir/rel -> a': null, 'src/dir/out -> ../../outside': null, 'src/link -> file': null, 'src/dir/tmp/': null });
  chmodSync(join(ctx, 'src/dir/sub'), 0o700);
  chmodSync(join(ctx, 'src/dir/a'), 0o750);
  chmodSync(join(ctx, 'src/dir/tmp'), 0o1777);
  mkdirSync(join(ctx, 'arch/top/inner'), { recursive: true });
  writeFileSync(join(ctx, 'arch/top/inner/t'), 't');
  execFileSync('chown', ['-R', '1000:50', join(ctx, 'arch/top')]);
  execFileSync('tar', ['-C', join(ctx, 'arch'), '-cf', join(ctx, 'a.tar'), 'top']);
  writeFileSync(join(ctx, 'Containerfile'), `FROM scratch AS base\nCOPY rootfs/ /\n\nFROM base\n${STEPS.map(([text]) => text).join('\n')}\n`);
  writeFileSync(join(ctx, '.dockerignore'), 'arch\n');
  return ctx;
}

type Listing = string[];

/** `path type mode uid:gid [-> target]` per entry, sorted; the tar's own directory entries included. */
async function tarListing(blob: string): Promise<Listing> {
  const out: string[] = [];
  const extract = tar.extract();
  extract.on('entry', (h, stream, next) => {
    const name = h.name.replace(/\/$/, '');
    if (!name.split('/').at(-1)?.startsWith('.wh.')) {
      out.push(`${name} ${h.type} ${((h.mode ?? 0) & 0o7777).toString(8)} ${h.uid}:${h.gid}${h.type === 'symlink' ? ` -> ${h.linkname}` : ''}`);
    }
    stream.on('end', next);
    stream.resume();
  });
  const gz = readFileSync(blob).subarray(0, 2).equals(Buffer.from([0x1f, 0x8b]));
  await (gz ? pipeline(createReadStream(blob), createGunzip(), extract) : pipeline(createReadStream(blob), extract));
  return out.sort();
}

function dirListing(root: string, prefix = ''): Listing {
  const out: string[] = [];
  for (const name of readdirSync(join(root, prefix))) {
    const rel = prefix ? `${prefix}/${name}` : name;
    const st = lstatSync(join(root, rel));
    const type = st.isDirectory() ? 'directory' : st.isSymbolicLink() ? 'symlink' : 'file';
    out.push(`${rel} ${type} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}${type === 'symlink' ? ` -> ${readlinkSync(join(root, rel))}` : ''}`);
    if (st.isDirectory()) out.push(...dirListing(root, rel));
  }
  return out.sort();
}

describe('COPY semantics against buildah', () => {
  // A missing oracle is a failure, not a skip (issue 15).
  beforeAll(() => {
    const v = spawnSync('buildah', ['--version'], { encoding: 'utf8' });
    if (v.status !== 0) throw new Error(`buildah, the oracle of this test, does not run (${v.error?.message ?? v.stderr.trim()}): scripts/install-deps.sh installs it`);
  });
  afterAll(() => {
    spawnSync('buildah', ['rmi', '-f', tag]);
    cleanupTemp();
  });

  it('produces the same layer entries for each step', async () => {
    const ctx = makeContext();
    const bud = spawnSync('buildah', ['--runtime', '/usr/sbin/runc', 'bud', '--layers', '-t', tag, '-f', join(ctx, 'Containerfile'), ctx], { encoding: 'utf8' });
    expect(bud.status, bud.stderr).toBe(0);
    const oci = tempDir('tsb-diff-oci-');
    rmSync(oci, { recursive: true });
    const push = spawnSync('buildah', ['push', tag, `oci:${oci}`], { encoding: 'utf8' });
    expect(push.status, push.stderr).toBe(0);
    const index = JSON.parse(readFileSync(join(oci, 'index.json'), 'utf8'));
    const blob = (d: string) => join(oci, 'blobs/sha256', d.slice(7));
    const manifest = JSON.parse(readFileSync(blob(index.manifests[0].digest), 'utf8'));
    const theirs = await Promise.all((manifest.layers as Array<{ digest: string }>).slice(1).map((l) => tarListing(blob(l.digest))));
    expect(theirs).toHaveLength(STEPS.length);

    const lower = [join(ctx, 'rootfs')];
    for (const [i, [text, ins]] of STEPS.entries()) {
      const layer = tempDir('tsb-diff-layer-');
      await applyCopy({ instruction: ins, source: { kind: 'context', dir: ctx }, targetLayers: [...lower], workdir: '/', containerfile: 'Containerfile' }, layer);
      lower.push(layer);
      expect(dirListing(layer), text).toEqual(theirs[i]);
    }
  });
});
