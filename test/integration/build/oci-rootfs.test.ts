// The differential tests' own flattener, checked on hand-made layer tars:
// if it mishandled whiteouts or hard links, two different images could
// compare equal. No root needed, but it lives with the tests that use it.
import { describe, expect, it } from 'vitest';
import { makeTar } from '../oci-fixture.js';
import { applyLayer, diffRootfs, linkGroups, type Rootfs } from './oci-rootfs.js';

const fresh = (): Rootfs => new Map([['/', { type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0 }]]);

async function flatten(...layers: Parameters<typeof makeTar>[0][]): Promise<Rootfs> {
  const fs = fresh();
  for (const l of layers) await applyLayer(fs, await makeTar(l));
  linkGroups(fs);
  return fs;
}

describe('flattening OCI layers', () => {
  it('a .wh. entry removes the path and everything under it from the layers below only', async () => {
    const fs = await flatten(
      [{ name: 'a/', type: 'directory', mode: 0o755 }, { name: 'a/b/', type: 'directory', mode: 0o755 }, { name: 'a/b/c', data: 'c' }, { name: 'a/keep', data: 'k' }, { name: 'ab', data: 'x' }],
      // The new a/b/new comes after its own whiteout in tar order; either order must give the same result.
      [{ name: 'a/b/', type: 'directory', mode: 0o700 }, { name: 'a/b/new', data: 'n' }, { name: 'a/.wh.b', data: '' }, { name: '.wh.ab', data: '' }],
    );
    expect([...fs.keys()].sort()).toEqual(['/', '/a', '/a/b', '/a/b/new', '/a/keep']);
    expect(fs.get('/a/b')?.mode).toBe(0o700);
  });

  it('an opaque dir hides what the layers below had in it, not what its own layer adds', async () => {
    const fs = await flatten(
      [{ name: 'd/', type: 'directory', mode: 0o755 }, { name: 'd/old', data: 'o' }, { name: 'd/sub/', type: 'directory', mode: 0o755 }, { name: 'd/sub/x', data: 'x' }, { name: 'dd', data: 'sibling' }],
      [{ name: 'd/', type: 'directory', mode: 0o750 }, { name: 'd/new', data: 'n' }, { name: 'd/.wh..wh..opq', data: '' }],
    );
    expect([...fs.keys()].sort()).toEqual(['/', '/d', '/d/new', '/dd']);
    expect(fs.get('/d')?.mode).toBe(0o750);
  });

  it('a file replacing a directory takes its subtree with it', async () => {
    const fs = await flatten([{ name: 'x/', type: 'directory' }, { name: 'x/y', data: 'y' }], [{ name: 'x', data: 'file now' }]);
    expect([...fs.keys()].sort()).toEqual(['/', '/x']);
    expect(fs.get('/x')?.type).toBe('file');
  });

  it('records special bits, owners, link targets and device numbers, and tells them apart', async () => {
    const layer = [
      { name: 'suid', data: 's', mode: 0o4755, uid: 1000, gid: 50 },
      { name: 'sticky/', type: 'directory' as const, mode: 0o1777 },
      { name: 'ln', type: 'symlink' as const, linkname: '/etc/passwd' },
      { name: 'fifo', type: 'fifo' as const, mode: 0o640 },
      { name: 'null', type: 'character-device' as const, mode: 0o666, devmajor: 1, devminor: 3 },
    ];
    const a = await flatten(layer);
    expect(a.get('/suid')).toMatchObject({ type: 'file', mode: 0o4755, uid: 1000, gid: 50, size: 1 });
    expect(a.get('/sticky')).toMatchObject({ type: 'dir', mode: 0o1777 });
    expect(a.get('/ln')).toMatchObject({ type: 'symlink', link: '/etc/passwd' });
    expect(a.get('/fifo')).toMatchObject({ type: 'fifo', mode: 0o640 });
    expect(a.get('/null')).toMatchObject({ type: 'char', dev: '1:3' });
    const b = await flatten(layer.map((e) => (e.name === 'suid' ? { ...e, mode: 0o755 } : e.name === 'ln' ? { ...e, linkname: '/etc/group' } : e)));
    expect(diffRootfs(a, b, ['a', 'b']).map((l) => l.split(':')[0])).toEqual(['/ln', '/suid']);
  });

  it('hard links share content and metadata and are compared as link groups', async () => {
    const linked = await flatten([{ name: 'f', data: 'same', mode: 0o600 }, { name: 'g', type: 'link', linkname: 'f' }]);
    expect(linked.get('/g')).toMatchObject({ type: 'file', mode: 0o600, size: 4 });
    const separate = await flatten([{ name: 'f', data: 'same', mode: 0o600 }, { name: 'g', data: 'same', mode: 0o600 }]);
    expect(diffRootfs(linked, separate, ['a', 'b'])).toHaveLength(2);
  });
});
