// getRunnableImage: a two-layer image resolves to its layer dirs bottom
// first and its config; stacked on real overlayfs, the upper layer's files,
// whiteouts and opaque directories behave as in docker. Also rmi/prune
// through the CLI keep layers an image or container still uses.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { getRunnableImage, openStore } from '../../../src/store/index.js';
import { loadArchive } from '../../../src/image/archive/load.js';
import { busyboxRootfs, tsbuild } from '../fixtures.js';
import { buildImage, entriesFromDir, makeTar, writeOciLayout } from '../oci-fixture.js';
import { tempDir } from './helpers.js';

/** The busybox base, with a dir under home/ for the top layer's opaque marker to hide. */
function baseTar(): Promise<Buffer> {
  return makeTar([...entriesFromDir(busyboxRootfs), { name: 'home/olduser/', type: 'directory', mode: 0o755 }]);
}

async function twoLayerLayout(dir: string, base: Buffer): Promise<ReturnType<typeof buildImage>> {
  const top = await makeTar([
    { name: 'etc/', type: 'directory', mode: 0o755 },
    { name: 'etc/motd', data: 'from the top layer\n' },
    { name: 'etc/.wh.group', data: '' },
    { name: 'home/', type: 'directory', mode: 0o755 },
    { name: 'home/.wh..wh..opq', data: '' },
    { name: 'home/new', data: 'only me' },
  ]);
  const img = buildImage([base, top], { Cmd: ['/bin/echo', 'hello'], WorkingDir: '/home' });
  writeOciLayout(img, dir, 'latest', { 'io.containerd.image.name': 'localhost/two:1' });
  return img;
}

describe('runnable images', () => {
  it('returns layer dirs bottom first and the config; they stack correctly on overlayfs', async () => {
    const t = tempDir('runnable');
    const mnt = join(t.dir, 'mnt');
    try {
      const img = await twoLayerLayout(join(t.dir, 'layout'), await baseTar());
      const store = await openStore(join(t.dir, 'root'));
      await loadArchive(store, join(t.dir, 'layout'));
      const r = await getRunnableImage(store, 'localhost/two:1');
      expect(r.id).toBe(img.configDigest);
      expect(r.name).toBe('localhost/two:1');
      expect(r.config).toMatchObject({ Cmd: ['/bin/echo', 'hello'], WorkingDir: '/home' });
      expect(r.layerDirs).toEqual(img.layers.map((l) => join(t.dir, 'root/layers', l.diffId.slice(7), 'diff')));
      expect(existsSync(join(r.layerDirs[0] as string, 'bin/busybox'))).toBe(true);
      // Second resolution reuses the unpacked layers.
      expect((await getRunnableImage(store, img.configDigest.slice(7, 19))).layerDirs).toEqual(r.layerDirs);
      await store.close();

      mkdirSync(mnt);
      execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${[...r.layerDirs].reverse().join(':')}`, mnt]);
      try {
        expect(readFileSync(join(mnt, 'etc/motd'), 'utf8')).toBe('from the top layer\n');
        expect(existsSync(join(mnt, 'etc/group'))).toBe(false);
        expect(existsSync(join(mnt, 'etc/passwd'))).toBe(true);
        expect(existsSync(join(r.layerDirs[0] as string, 'home/olduser'))).toBe(true);
        expect(readdirSync(join(mnt, 'home'))).toEqual(['new']);
        expect(existsSync(join(mnt, 'bin/busybox'))).toBe(true);
      } finally {
        execFileSync('umount', [mnt]);
      }
    } finally {
      t.cleanup();
    }
  });

  it('rmi and prune free unused blobs and layers but keep what images and containers use', async () => {
    const t = tempDir('gc');
    try {
      const root = join(t.dir, 'root');
      // One base tar for both images (the shared fixture dir may be rebuilt by another run meanwhile).
      const baseLayer = await baseTar();
      const img = await twoLayerLayout(join(t.dir, 'layout'), baseLayer);
      expect(tsbuild(root, ['load', '-i', join(t.dir, 'layout')]).status).toBe(0);
      // A second image sharing the busybox base layer.
      const base = img.layers[0] as (typeof img.layers)[number];
      const other = buildImage([baseLayer], { Cmd: ['/bin/true'] });
      writeOciLayout(other, join(t.dir, 'other'), 'x', { 'io.containerd.image.name': 'localhost/other:1' });
      expect(tsbuild(root, ['load', '-i', join(t.dir, 'other')]).status).toBe(0);
      const store = await openStore(root);
      const two = await getRunnableImage(store, 'localhost/two:1');
      const one = await getRunnableImage(store, 'localhost/other:1');
      await store.close();
      expect(one.layerDirs[0]).toBe(two.layerDirs[0]);
      const layers = (): string[] => readdirSync(join(root, 'layers')).sort();

      // A container of `two` pins it: rmi refuses, -f only untags, prune keeps it.
      mkdirSync(join(root, 'containers/abc123'), { recursive: true });
      writeFileSync(join(root, 'containers/abc123/state.json'), JSON.stringify({ id: 'abc123', imageId: img.configDigest, layerDirs: two.layerDirs }));
      const refused = tsbuild(root, ['rmi', 'localhost/two:1']);
      expect(refused.status).not.toBe(0);
      expect(refused.stderr).toMatch(/^tsbuild: unable to remove image localhost\/two:1: it is used by container abc123/);
      expect(tsbuild(root, ['rmi', '-f', 'localhost/two:1']).stdout).toBe('Untagged: localhost/two:1\n');
      expect(tsbuild(root, ['prune']).status).toBe(0);
      expect(layers()).toEqual(img.layers.map((l) => l.diffId.slice(7)).sort());

      // The container goes: prune frees two's manifest, config and top layer, keeps the shared base.
      execFileSync('rm', ['-rf', join(root, 'containers/abc123')]);
      const pruned = tsbuild(root, ['prune']);
      expect(pruned.stdout).toMatch(/^Deleted images: 1, blobs: 3, layers: 1\n/);
      expect(layers()).toEqual([base.diffId.slice(7)]);
      expect(existsSync(join(root, 'blobs/sha256', base.digest.slice(7)))).toBe(true);

      // Removing the last image frees everything.
      expect(tsbuild(root, ['rmi', 'localhost/other:1']).stdout).toMatch(/^Untagged: localhost\/other:1\nDeleted: sha256:/);
      expect(layers()).toEqual([]);
      expect(readdirSync(join(root, 'blobs/sha256'))).toEqual([]);
      expect(tsbuild(root, ['images', '--format', 'json']).stdout).toBe('[]\n');
    } finally {
      t.cleanup();
    }
  });
});
