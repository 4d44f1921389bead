// Archives interoperate with the real tools in both directions: skopeo reads
// tsbuild's oci-archive, podman loads and runs its docker-archive, umoci
// unpacks its oci-dir, and tsbuild loads skopeo's docker-archive and OCI
// layout. Everything goes through the CLI, as a user would drive it.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxRootfs, tsbuild } from '../fixtures.js';
import { makeOciLayoutFromDir, type BuiltImage } from '../oci-fixture.js';
import { tempDir } from './helpers.js';

const t = tempDir('archive');
const root = join(t.dir, 'root');
let img: BuiltImage;
const podmanName = `localhost/tsbuild-archive-test-${process.pid}:1`;

function ok(args: string[], input?: string): string {
  const r = tsbuild(root, args, input === undefined ? {} : { input });
  expect({ status: r.status, stderr: r.stderr }).toMatchObject({ status: 0 });
  return r.stdout;
}

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
}

beforeAll(async () => {
  img = await makeOciLayoutFromDir(busyboxRootfs, join(t.dir, 'layout'), { tag: '1', name: 'localhost/bb:1', config: { Cmd: ['/bin/sh', '-c', 'echo hi'] } });
  expect(ok(['load', '-i', join(t.dir, 'layout')])).toBe('Loaded image: localhost/bb:1\n');
});
afterAll(() => {
  spawnSync('podman', ['rmi', '-f', podmanName], { stdio: 'ignore' });
  t.cleanup();
});

describe('save and load', () => {
  it('inspect prints id, digest, manifest, config with diff_ids, and tags', () => {
    const j = JSON.parse(ok(['inspect', 'localhost/bb:1'])) as Record<string, any>;
    expect(j.id).toBe(img.configDigest);
    expect(j.digest).toBe(img.manifestDigest);
    expect(j.tags).toEqual(['localhost/bb:1']);
    expect(j.manifest.layers[0].digest).toBe(img.layers[0]?.digest);
    expect(j.config.rootfs.diff_ids).toEqual([img.layers[0]?.diffId]);
    expect(j.config.config.Cmd).toEqual(['/bin/sh', '-c', 'echo hi']);
  });

  it('skopeo reads tsbuild oci-archive', () => {
    const out = join(t.dir, 'img.oci.tar');
    ok(['save', '--format', 'oci-archive', '-o', out, 'localhost/bb:1']);
    const info = JSON.parse(run('skopeo', ['inspect', `oci-archive:${out}`])) as { Digest: string; Layers: string[] };
    expect(info.Digest).toBe(img.manifestDigest);
    expect(info.Layers).toEqual([img.layers[0]?.digest]);
    run('skopeo', ['copy', '--quiet', `oci-archive:${out}`, `dir:${join(t.dir, 'skopeo-dir')}`]);
    expect(existsSync(join(t.dir, 'skopeo-dir', 'manifest.json'))).toBe(true);
  });

  it('podman loads and runs tsbuild docker-archive', () => {
    ok(['tag', 'localhost/bb:1', podmanName]);
    const out = join(t.dir, 'img.docker.tar');
    ok(['save', '--format', 'docker-archive', '-o', out, podmanName]);
    expect(run('podman', ['load', '-q', '-i', out])).toContain(podmanName);
    const inspected = JSON.parse(run('podman', ['image', 'inspect', podmanName])) as { RootFS: { Layers: string[] } }[];
    expect(inspected[0]?.RootFS.Layers).toEqual([img.layers[0]?.diffId]);
    const r = spawnSync('podman', ['run', '--runtime', '/usr/sbin/runc', '--rm', '--network', 'none', podmanName, '/bin/sh', '-c', 'echo ran in podman'], { encoding: 'utf8', timeout: 120_000 });
    expect(r.stdout).toBe('ran in podman\n');
  });

  it('umoci unpacks tsbuild oci-dir by tag', () => {
    const dir = join(t.dir, 'oci-dir');
    ok(['save', '--format', 'oci-dir', '-o', dir, 'localhost/bb:1']);
    const bundle = join(t.dir, 'bundle');
    run('umoci', ['unpack', '--image', `${dir}:1`, bundle]);
    expect(readFileSync(join(bundle, 'rootfs/bin/busybox')).equals(readFileSync(join(busyboxRootfs, 'bin/busybox')))).toBe(true);
    // A second save into the same layout adds a tag beside the first.
    ok(['tag', 'localhost/bb:1', 'localhost/bb:2']);
    ok(['save', '--format', 'oci-dir', '-o', dir, 'localhost/bb:2']);
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: { annotations: Record<string, string> }[] };
    expect(index.manifests.map((m) => m.annotations['org.opencontainers.image.ref.name']).sort()).toEqual(['1', '2']);
  });

  it('loads skopeo docker-archive and skopeo OCI layout', () => {
    const src = `oci:${join(t.dir, 'layout')}:1`;
    const dockerTar = join(t.dir, 'skopeo.docker.tar');
    run('skopeo', ['copy', '--quiet', src, `docker-archive:${dockerTar}:skopeo/img:3`]);
    expect(ok(['load', '-i', dockerTar])).toBe('Loaded image: docker.io/skopeo/img:3\n');
    const ociDir = join(t.dir, 'skopeo-oci');
    run('skopeo', ['copy', '--quiet', src, `oci:${ociDir}:localhost/skoci:4`]);
    expect(ok(['load', '-i', ociDir])).toBe('Loaded image: localhost/skoci:4\n');
    for (const name of ['skopeo/img:3', 'localhost/skoci:4']) {
      const j = JSON.parse(ok(['inspect', name])) as { id: string; config: { rootfs: { diff_ids: string[] } } };
      expect(j.id).toBe(img.configDigest);
      expect(j.config.rootfs.diff_ids).toEqual([img.layers[0]?.diffId]);
    }
  });

  it('round-trips its own archives, including a docker-archive on stdin', () => {
    const out = join(t.dir, 'rt.docker.tar');
    ok(['save', '-o', out, 'localhost/bb:1']);
    const other = tempDir('archive-rt');
    try {
      const r = spawnSync(process.execPath, [join(import.meta.dirname, '../../../bin/tsbuild.js'), '--root', join(other.dir, 'root'), 'load'], { input: readFileSync(out), encoding: 'utf8' });
      expect(r.stdout).toBe('Loaded image: localhost/bb:1\n');
      expect(readdirSync(join(other.dir, 'root/tmp'))).toEqual([]);
    } finally {
      other.cleanup();
    }
  });

  it('refuses what is not an archive with a one-line error', () => {
    const r = tsbuild(root, ['load', '-i', '/etc/hostname']);
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^tsbuild: /);
    const s = tsbuild(root, ['save', '--format', 'zip', '-o', join(t.dir, 'x'), 'localhost/bb:1']);
    expect(s.status).not.toBe(0);
    expect(s.stderr).toContain('invalid --format');
    const u = tsbuild(root, ['save', '-o', join(t.dir, 'y.tar'), 'no/such:image']);
    expect(u.stderr).toBe('tsbuild: image not known: no/such:image\n');
    expect(existsSync(join(t.dir, 'y.tar'))).toBe(false);
  });
});
