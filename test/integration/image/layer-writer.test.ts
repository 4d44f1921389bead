// The layer writer against real overlay-form directories (root needed for
// whiteout devices and trusted.* xattrs): OCI whiteouts, opaque markers,
// hard links, exclusions, determinism, and adopting the dir into the store.
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeLayer } from '../../../src/image/layer-writer.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { tempRoot } from '../fixtures.js';

let root: string;
let cleanup: () => void;
let store: Store;
let work: string;

beforeAll(async () => {
  ({ root, cleanup } = tempRoot('layer-writer'));
  store = await openStore(root);
  work = mkdtempSync(join(tmpdir(), 'tsbuild-lw-'));
});
afterAll(async () => {
  await store.close();
  cleanup();
  rmSync(work, { recursive: true, force: true });
});

/** An upperdir as overlayfs leaves it after: edits, a deletion, a replaced directory, a hard link. */
function makeUpper(name: string): string {
  const dir = join(work, name);
  mkdirSync(join(dir, 'etc'), { recursive: true });
  writeFileSync(join(dir, 'etc/app.conf'), 'port=80\n');
  writeFileSync(join(dir, 'etc/hosts'), '127.0.0.1 leaked\n');
  execFileSync('mknod', [join(dir, 'etc/removed'), 'c', '0', '0']);
  mkdirSync(join(dir, 'var/cache'), { recursive: true });
  execFileSync('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', join(dir, 'var/cache')]);
  writeFileSync(join(dir, 'var/cache/fresh'), 'new\n');
  writeFileSync(join(dir, 'data'), 'shared bytes');
  linkSync(join(dir, 'data'), join(dir, 'data-link'));
  symlinkSync('/etc/app.conf', join(dir, 'conf'));
  return dir;
}

async function entriesOf(digest: string): Promise<{ name: string; type: string; linkname?: string | null }[]> {
  const out: { name: string; type: string; linkname?: string | null }[] = [];
  const extract = tar.extract();
  extract.on('entry', (h, stream, next) => {
    out.push({ name: h.name, type: h.type ?? 'file', linkname: h.linkname });
    stream.resume();
    stream.on('end', next);
  });
  const done = new Promise((resolve, reject) => { extract.on('finish', resolve); extract.on('error', reject); });
  (await store.openBlob(digest)).pipe(createGunzip()).pipe(extract);
  await done;
  return out;
}

describe('writeLayer', () => {
  it('converts overlay whiteouts and opaque dirs to OCI form, keeps hard links, drops exclusions', async () => {
    const layer = await writeLayer(store, makeUpper('a'), { exclude: new Set(['etc/hosts']) });
    expect(layer).toBeDefined();
    const entries = await entriesOf(layer!.digest);
    const names = entries.map((e) => e.name.replace(/\/$/, ''));
    expect(names).toContain('etc/.wh.removed');
    expect(names).not.toContain('etc/removed');
    expect(names).toContain('var/cache/.wh..wh..opq');
    expect(names.indexOf('var/cache')).toBeLessThan(names.indexOf('var/cache/.wh..wh..opq'));
    expect(names).not.toContain('etc/hosts');
    expect(entries.find((e) => e.name === 'data-link')).toMatchObject({ type: 'link', linkname: 'data' });
    expect(entries.find((e) => e.name === 'conf')).toMatchObject({ type: 'symlink', linkname: '/etc/app.conf' });
  });

  it('gives the same diffID for the same content and adopts the dir as the unpacked layer', async () => {
    const first = await writeLayer(store, makeUpper('b'));
    const dir = makeUpper('c');
    const second = await writeLayer(store, dir, { adopt: true });
    expect(second?.diffId).toBe(first?.diffId);
    const lower = await store.layerDir(second!.diffId);
    expect(lower && existsSync(join(lower, 'var/cache/fresh'))).toBe(true);
    expect(existsSync(dir)).toBe(false);
  });

  it('makes no layer for an empty diff, or one holding only excluded files', async () => {
    const empty = join(work, 'empty');
    mkdirSync(empty);
    expect(await writeLayer(store, empty)).toBeUndefined();
    mkdirSync(join(work, 'only-init/etc'), { recursive: true });
    writeFileSync(join(work, 'only-init/etc/hostname'), 'x\n');
    expect(await writeLayer(store, join(work, 'only-init'), { exclude: new Set(['etc', 'etc/hostname']) })).toBeUndefined();
  });
});
