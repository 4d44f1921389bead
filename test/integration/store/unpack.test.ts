// Layer unpacking as root: the busybox rootfs round-trips through a layer
// tar in every compression, and the tar's metadata (owners, modes, special
// bits, xattrs incl. binary ones, links, devices, fifos, mtimes) and
// whiteouts arrive in overlayfs form.
import { lstatSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { busyboxRootfs } from '../fixtures.js';
import { entriesFromDir, makeTar, sha256 } from '../oci-fixture.js';
import { unpackTar, withStore, compress } from './helpers.js';

function getfattr(path: string, name: string): Buffer | undefined {
  try {
    // getfattr is not installed everywhere; python's os.getxattr is.
    const py = 'import os,sys; sys.stdout.buffer.write(os.getxattr(sys.argv[1], sys.argv[2], follow_symlinks=False))';
    return execFileSync('python3', ['-c', py, path, name], { stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
}

describe('layer unpack', () => {
  for (const how of ['gzip', 'zstd', 'none'] as const) {
    it(`unpacks the busybox rootfs from a ${how} layer`, async () => {
      await withStore(async (store) => {
        const tarBuf = await makeTar(entriesFromDir(busyboxRootfs));
        const dir = await unpackTar(store, tarBuf, how);
        expect(readFileSync(join(dir, 'bin/busybox')).equals(readFileSync(join(busyboxRootfs, 'bin/busybox')))).toBe(true);
        expect(readlinkSync(join(dir, 'bin/sh'))).toBe(readlinkSync(join(busyboxRootfs, 'bin/sh')));
        expect(statSync(join(dir, 'tmp')).mode & 0o7777).toBe(0o1777);
        expect(statSync(join(dir, 'bin/busybox')).mode & 0o777).toBe(0o755);
        expect(readFileSync(join(dir, 'etc/passwd'), 'utf8')).toContain('alice:x:1000');
      });
    });
  }

  it('detects compression by magic bytes even when the media type lies', async () => {
    await withStore(async (store) => {
      const tarBuf = await makeTar([{ name: 'hello', data: 'hi' }]);
      const { digest } = await store.putBlobBytes(compress(tarBuf, 'zstd'));
      const dir = await store.ensureLayerUnpacked(sha256(tarBuf), digest, 'application/vnd.oci.image.layer.v1.tar+gzip');
      expect(readFileSync(join(dir, 'hello'), 'utf8')).toBe('hi');
    });
  });

  it('keeps owners, modes, special bits, xattrs, links, devices, fifos and mtimes', async () => {
    await withStore(async (store) => {
      const cap = Buffer.from('0100000200200000000000000000000000000000', 'hex'); // binary: cap_net_raw
      const mtime = new Date('2020-02-03T04:05:06Z');
      const tarBuf = await makeTar([
        { name: 'dir/', type: 'directory', mode: 0o2750, uid: 1000, gid: 50, mtime },
        { name: 'dir/suid', data: 'x', mode: 0o4755, uid: 0, gid: 0, mtime },
        { name: 'dir/sgid', data: 'x', mode: 0o2711, uid: 1000, gid: 1000, mtime },
        { name: 'sticky/', type: 'directory', mode: 0o1777, mtime },
        { name: 'ping', data: 'bin', mode: 0o755, mtime, pax: { 'SCHILY.xattr.security.capability': cap.toString('latin1'), 'SCHILY.xattr.user.note': 'héllo' } } as never,
        { name: 'hard', type: 'link', linkname: 'dir/suid' },
        { name: 'sym', type: 'symlink', linkname: '/dir/suid', uid: 1000, gid: 1000, mtime },
        { name: 'fifo', type: 'fifo', mode: 0o640, mtime },
        { name: 'null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666, mtime },
        { name: 'loop', type: 'block-device', devmajor: 7, devminor: 0, mode: 0o660, mtime },
      ]);
      const dir = await unpackTar(store, tarBuf);
      const d = lstatSync(join(dir, 'dir'));
      expect([d.mode & 0o7777, d.uid, d.gid]).toEqual([0o2750, 1000, 50]);
      expect(d.mtime.getTime()).toBe(mtime.getTime());
      expect(lstatSync(join(dir, 'dir/suid')).mode & 0o7777).toBe(0o4755);
      const sg = lstatSync(join(dir, 'dir/sgid'));
      expect([sg.mode & 0o7777, sg.uid, sg.gid]).toEqual([0o2711, 1000, 1000]);
      expect(lstatSync(join(dir, 'sticky')).mode & 0o7777).toBe(0o1777);
      expect(lstatSync(join(dir, 'hard')).ino).toBe(lstatSync(join(dir, 'dir/suid')).ino);
      const s = lstatSync(join(dir, 'sym'));
      expect([s.isSymbolicLink(), s.uid, readlinkSync(join(dir, 'sym'))]).toEqual([true, 1000, '/dir/suid']);
      expect(lstatSync(join(dir, 'fifo')).isFIFO()).toBe(true);
      const n = lstatSync(join(dir, 'null'));
      expect([n.isCharacterDevice(), n.rdev, n.mode & 0o777]).toEqual([true, (1 << 8) | 3, 0o666]);
      expect(lstatSync(join(dir, 'loop')).isBlockDevice()).toBe(true);
      expect(getfattr(join(dir, 'ping'), 'security.capability')?.equals(cap)).toBe(true);
      expect(getfattr(join(dir, 'ping'), 'user.note')?.toString('utf8')).toBe('héllo');
    });
  });

  it('converts whiteouts and opaque markers to overlayfs form', async () => {
    await withStore(async (store) => {
      const tarBuf = await makeTar([
        { name: 'etc/', type: 'directory', mode: 0o755 },
        { name: 'etc/.wh.gone', data: '' },
        { name: 'opaque/', type: 'directory', mode: 0o700 },
        { name: 'opaque/.wh..wh..opq', data: '' },
        { name: 'implicit/.wh..wh..opq', data: '' },
        { name: '.wh.toplevel', data: '' },
      ]);
      const dir = await unpackTar(store, tarBuf);
      const wh = lstatSync(join(dir, 'etc/gone'));
      expect([wh.isCharacterDevice(), wh.rdev]).toEqual([true, 0]);
      expect(lstatSync(join(dir, 'toplevel')).isCharacterDevice()).toBe(true);
      expect(getfattr(join(dir, 'opaque'), 'trusted.overlay.opaque')?.toString()).toBe('y');
      expect(lstatSync(join(dir, 'opaque')).mode & 0o777).toBe(0o700);
      expect(getfattr(join(dir, 'implicit'), 'trusted.overlay.opaque')?.toString()).toBe('y');
      expect(() => lstatSync(join(dir, 'etc/.wh.gone'))).toThrow();
    });
  });

  it('rejects a layer whose content does not match its diffID and keeps nothing', async () => {
    await withStore(async (store, root) => {
      const tarBuf = await makeTar([{ name: 'a', data: 'a' }]);
      const { digest } = await store.putBlobBytes(compress(tarBuf, 'gzip'));
      const wrong = sha256('not this');
      await expect(store.ensureLayerUnpacked(wrong, digest, 'application/vnd.oci.image.layer.v1.tar+gzip')).rejects.toMatchObject({ code: 'E_DIGEST_MISMATCH' });
      expect(await store.layerDir(wrong)).toBeUndefined();
      expect(execFileSync('ls', ['-A', join(root, 'tmp')], { encoding: 'utf8' }).trim()).toBe('');
    });
  });
});
