// Hostile layers: names and links that try to write, change or read outside
// the layer directory. Each case checks that a canary directory beside the
// store, the host's /etc/passwd and the places an escape would land are
// untouched, whether the layer is refused or its entries are clamped inside.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../../../src/store/index.js';
import { makeTar, type TarEntry } from '../oci-fixture.js';
import { tempDir, unpackTar, withStore } from './helpers.js';

const canary = tempDir('canary');
const outside = join(canary.dir, 'outside');

interface Snapshot { files: Record<string, string>; passwd: string }

function fileState(p: string): string {
  const st = lstatSync(p);
  const body = st.isFile() ? createHash('sha256').update(readFileSync(p)).digest('hex') : '';
  return `${st.mode}:${st.uid}:${st.gid}:${st.nlink}:${st.size}:${st.mtimeMs}:${body}`;
}

function snapshot(): Snapshot {
  const files: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      files[p] = fileState(p);
      if (lstatSync(p).isDirectory()) walk(p);
    }
  };
  walk(canary.dir);
  return { files, passwd: fileState('/etc/passwd') };
}

/** No file in the layer may be the same inode as a file outside it (a link would expose its content). */
function inodesOf(dir: string): Set<string> {
  const out = new Set<string>();
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) {
      const st = lstatSync(join(d, n));
      out.add(`${st.dev}:${st.ino}`);
      if (st.isDirectory()) walk(join(d, n));
    }
  };
  walk(dir);
  return out;
}

let before: Snapshot;
beforeAll(() => {
  mkdirSync(join(outside, 'sub'), { recursive: true });
  writeFileSync(join(outside, 'secret'), 'host secret');
  writeFileSync(join(outside, 'sub/file'), 'host file');
});
afterAll(() => canary.cleanup());
beforeEach(() => { before = snapshot(); });

async function attempt(store: Store, entries: TarEntry[]): Promise<{ dir?: string; error?: { code?: string } }> {
  try {
    return { dir: await unpackTar(store, await makeTar(entries)) };
  } catch (err) {
    return { error: err as { code?: string } };
  }
}

function assertHostUntouched(dir?: string): void {
  expect(snapshot()).toEqual(before);
  for (const p of ['/evil', '/abs', '/etc/x', '/tmp/evil']) expect(existsSync(p)).toBe(false);
  if (dir) {
    const layerInodes = inodesOf(dir);
    for (const host of [join(outside, 'secret'), join(outside, 'sub/file'), '/etc/passwd']) {
      const st = lstatSync(host);
      expect(layerInodes.has(`${st.dev}:${st.ino}`)).toBe(false);
    }
    // Nothing appeared beside the layer dir either.
    expect(existsSync(join(dirname(dir), 'evil'))).toBe(false);
    expect(existsSync(join(dirname(dirname(dir)), 'evil'))).toBe(false);
  }
}

describe('hostile layers stay inside the layer directory', () => {
  it('clamps ../ names at the layer root', async () => {
    await withStore(async (store) => {
      const r = await attempt(store, [{ name: '../evil', data: 'x' }, { name: '../../../../evil', data: 'y' }, { name: 'a/../../evil2', data: 'z' }]);
      expect(r.error).toBeUndefined();
      expect(readFileSync(join(r.dir as string, 'evil'), 'utf8')).toBe('y');
      expect(readFileSync(join(r.dir as string, 'evil2'), 'utf8')).toBe('z');
      assertHostUntouched(r.dir);
    });
  });

  it('treats absolute names as relative to the layer root', async () => {
    await withStore(async (store) => {
      const r = await attempt(store, [{ name: '/abs/evil', data: 'x' }, { name: join(outside, 'secret'), data: 'overwrite' }]);
      expect(readFileSync(join(r.dir as string, 'abs/evil'), 'utf8')).toBe('x');
      expect(readFileSync(join(r.dir as string, outside, 'secret'), 'utf8')).toBe('overwrite');
      assertHostUntouched(r.dir);
    });
  });

  it('does not follow an absolute symlink out of the root (a -> /outside, then a/file)', async () => {
    await withStore(async (store) => {
      const r = await attempt(store, [
        { name: 'a', type: 'symlink', linkname: outside },
        { name: 'a/secret', data: 'pwned' },
        { name: 'a/sub/file', data: 'pwned' },
      ]);
      // The symlink resolves to <layer>/<outside>, which does not exist: refused.
      expect(r.error?.code).toBe('E_LAYER_FS');
      assertHostUntouched();
    });
  });

  it('clamps a ../../.. symlink at the root (b -> ../../.., then b/etc/x)', async () => {
    await withStore(async (store) => {
      const r = await attempt(store, [
        { name: 'b', type: 'symlink', linkname: '../../..' },
        { name: 'b/etc/x', data: 'clamped' },
        { name: 'b/tmp/evil', data: 'clamped' },
      ]);
      expect(r.error).toBeUndefined();
      expect(readFileSync(join(r.dir as string, 'etc/x'), 'utf8')).toBe('clamped');
      expect(lstatSync(join(r.dir as string, 'b')).isSymbolicLink()).toBe(true);
      assertHostUntouched(r.dir);
    });
  });

  it('writes entries below a symlinked directory into the layer (c -> /etc, then c/passwd)', async () => {
    await withStore(async (store) => {
      const r = await attempt(store, [
        { name: 'etc/', type: 'directory', mode: 0o755 },
        { name: 'c', type: 'symlink', linkname: '/etc' },
        { name: 'c/passwd', data: 'root::0:0::/:/bin/sh\n' },
      ]);
      expect(r.error).toBeUndefined();
      expect(readFileSync(join(r.dir as string, 'etc/passwd'), 'utf8')).toBe('root::0:0::/:/bin/sh\n');
      assertHostUntouched(r.dir);
    });
  });

  it('replaces a symlink to a host file instead of writing through it', async () => {
    await withStore(async (store) => {
      const r = await attempt(store, [
        { name: 'link', type: 'symlink', linkname: join(outside, 'secret') },
        { name: 'link', data: 'new content' },
        { name: 'rel', type: 'symlink', linkname: '../../../../../../../../etc/passwd' },
        { name: 'rel', data: 'new content' },
      ]);
      expect(r.error).toBeUndefined();
      expect(lstatSync(join(r.dir as string, 'link')).isFile()).toBe(true);
      expect(readFileSync(join(r.dir as string, 'rel'), 'utf8')).toBe('new content');
      assertHostUntouched(r.dir);
    });
  });

  it('refuses hard links to host files (/etc/passwd, ../../outside, through a symlink)', async () => {
    await withStore(async (store) => {
      const cases: TarEntry[][] = [
        [{ name: 'pw', type: 'link', linkname: '/etc/passwd' }],
        [{ name: 'pw', type: 'link', linkname: '../../../../../../../../etc/passwd' }],
        [{ name: 's', type: 'link', linkname: join('../../../../../../../..', outside, 'secret') }],
        [{ name: 'd', type: 'symlink', linkname: outside }, { name: 's', type: 'link', linkname: 'd/secret' }],
        [{ name: 'd', type: 'symlink', linkname: '../../../../../..' + outside }, { name: 's', type: 'link', linkname: 'd/sub/file' }],
      ];
      for (const entries of cases) {
        const r = await attempt(store, entries);
        expect(r.error?.code).toBe('E_LAYER_FS');
        assertHostUntouched();
      }
    });
  });

  it('refuses whiteouts that name the directory itself or its parent', async () => {
    await withStore(async (store) => {
      for (const name of ['.wh..', '.wh...', 'etc/.wh..', 'etc/.wh...', '.wh.']) {
        const r = await attempt(store, [{ name: 'etc/', type: 'directory' }, { name, data: '' }]);
        expect(r.error?.code).toBe('E_BAD_LAYER');
      }
      // Whiteouts with ../ in their path clamp like any other name.
      const r = await attempt(store, [{ name: '../../.wh.passwd', data: '' }, { name: 'x/../../../.wh.evil', data: '' }]);
      expect(r.error).toBeUndefined();
      expect(lstatSync(join(r.dir as string, 'passwd')).isCharacterDevice()).toBe(true);
      expect(lstatSync(join(r.dir as string, 'evil')).isCharacterDevice()).toBe(true);
      assertHostUntouched(r.dir);
    });
  });

  it('keeps a hard link whose target is a symlink from reaching the symlink target', async () => {
    await withStore(async (store) => {
      const r = await attempt(store, [
        { name: 'sym', type: 'symlink', linkname: '/etc/passwd' },
        { name: 'hl', type: 'link', linkname: 'sym' },
      ]);
      expect(r.error).toBeUndefined();
      // The link is to the symlink inode itself, whose target resolves inside the container.
      expect(lstatSync(join(r.dir as string, 'hl')).isSymbolicLink()).toBe(true);
      assertHostUntouched(r.dir);
    });
  });

  it('re-resolves a directory swapped for a symlink after hundreds of batched files in it', async () => {
    // The unpacker sends entries to the crate in batches of ~512 operations and
    // reuses the handle of the last file's parent within a run of files; the
    // swap comes after several batch boundaries, behind a large file that spans batches.
    const many = (dir: string): TarEntry[] => Array.from({ length: 600 }, (_, i) => ({ name: `${dir}/f${i}`, data: `file ${i}` }));
    const big = Buffer.alloc(3 << 20, 7);
    await withStore(async (store) => {
      const out = await attempt(store, [
        { name: 'd/', type: 'directory' }, ...many('d'), { name: 'd/big', data: big },
        { name: 'd', type: 'symlink', linkname: outside },
        { name: 'd/secret', data: 'pwned' },
      ]);
      expect(out.error?.code).toBe('E_LAYER_FS');
      assertHostUntouched();
      const clamped = await attempt(store, [
        { name: 'd/', type: 'directory' }, ...many('d'), { name: 'd/big', data: big },
        { name: 'd', type: 'symlink', linkname: '../../..' },
        { name: 'd/etc/x', data: 'clamped' },
        ...many('e'),
      ]);
      expect(clamped.error).toBeUndefined();
      const dir = clamped.dir as string;
      expect(readFileSync(join(dir, 'etc/x'), 'utf8')).toBe('clamped');
      expect(lstatSync(join(dir, 'd')).isSymbolicLink()).toBe(true);
      expect(readdirSync(join(dir, 'e')).length).toBe(600);
      expect(readFileSync(join(dir, 'e/f599'), 'utf8')).toBe('file 599');
      assertHostUntouched(dir);
    });
  });

  it('drops overlayfs control xattrs a layer tries to set (trusted.overlay.*)', async () => {
    await withStore(async (store) => {
      const r = await attempt(store, [
        { name: 'd/', type: 'directory', pax: { 'SCHILY.xattr.trusted.overlay.redirect': '/etc', 'SCHILY.xattr.trusted.overlay.opaque': 'y', 'SCHILY.xattr.user.ok': 'kept' } } as never,
      ]);
      expect(r.error).toBeUndefined();
      const py = 'import os,sys; print(sorted(os.listxattr(sys.argv[1])))';
      expect(execFileSync('python3', ['-c', py, join(r.dir as string, 'd')], { encoding: 'utf8' }).trim()).toBe("['user.ok']");
    });
  });
});
