// The layer writer against real overlay-form directories (root needed for
// whiteout devices and trusted.* xattrs): OCI whiteouts, opaque markers,
// hard links, exclusions, determinism, adopting the dir into the store, and
// a built layer's tar made again from its adopted dir (issue 12), and
// SOURCE_DATE_EPOCH's clamp (the same blob whatever the times were, gzip
// headers without a timestamp).
import { execFileSync } from 'node:child_process';
import { linkSync, lstatSync, lutimesSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
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

async function entriesOf(digest: string): Promise<{ name: string; type: string; linkname?: string | null; mtime: number }[]> {
  const out: { name: string; type: string; linkname?: string | null; mtime: number }[] = [];
  const extract = tar.extract();
  extract.on('entry', (h, stream, next) => {
    out.push({ name: h.name, type: h.type ?? 'file', linkname: h.linkname, mtime: Math.floor((h.mtime as Date).getTime() / 1000) });
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

  it('an adopted layer (whiteouts, opaque dir, hard link, an excluded file) gives its tar again from the store, byte for byte', async () => {
    const before = readdirSync(join(root, 'blobs', 'sha256'));
    const layer = await writeLayer(store, makeUpper('lazy'), { adopt: true, exclude: new Set(['etc/hosts']) });
    expect(layer?.digest).toBe(layer?.diffId);
    expect(readdirSync(join(root, 'blobs', 'sha256'))).toEqual(before);
    const hash = createHash('sha256');
    for await (const c of await store.openBlob(layer!.diffId, layer!.size)) hash.update(c as Buffer);
    expect(`sha256:${hash.digest('hex')}`).toBe(layer!.diffId);
    const gz = await store.compressedLayerBlob(layer!.diffId);
    const names = (await entriesOf(gz.digest)).map((e) => e.name.replace(/\/$/, ''));
    expect(names).toContain('etc/.wh.removed');
    expect(names).toContain('var/cache/.wh..wh..opq');
    expect(names).not.toContain('etc/hosts');
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

  it('with an epoch, clamps every later mtime (files, dirs, links, whiteouts) and gives one blob whatever the times were', async () => {
    const epoch = 1_600_000_000;
    // 9 MiB of compressible and 1 MiB of incompressible (hash-chain) bytes: three gzip members, both kinds.
    const noise = Buffer.concat(Array.from({ length: 1 << 15 }, (_, i) => createHash('sha256').update(String(i)).digest()));
    const text = Buffer.alloc(9 << 20);
    for (let i = 0; i < text.length; i++) text[i] = (i * 7919) % 251;
    const big = Buffer.concat([text, noise]);
    const make = (name: string, time: number): string => {
      const dir = makeUpper(name);
      writeFileSync(join(dir, 'big'), big);
      writeFileSync(join(dir, 'old'), 'older than the epoch\n');
      for (const p of readdirSync(dir, { recursive: true }) as string[]) lutimesSync(join(dir, p), time, time);
      lutimesSync(join(dir, 'old'), epoch - 1000, epoch - 1000);
      return dir;
    };
    const a = await writeLayer(store, make('clamp-a', epoch + 10), { clampMtime: epoch });
    const dir = make('clamp-b', epoch + 86_400);
    const b = await writeLayer(store, dir, { clampMtime: epoch, adopt: true });
    expect(b?.diffId).toBe(a?.diffId);
    // The adopted layer has no blob until asked; then it is the one written at once for `a`.
    expect(b?.digest).toBe(b?.diffId);
    const gz = await store.compressedLayerBlob(b!.diffId);
    expect(gz.digest).toBe(a?.digest);
    const entries = await entriesOf(gz.digest);
    expect(entries.filter((e) => e.mtime !== epoch).map((e) => [e.name, e.mtime])).toEqual([['old', epoch - 1000]]);
    expect(new Set(entries.map((e) => e.type))).toEqual(new Set(['directory', 'file', 'symlink', 'link']));
    // The unpacked layer holds the clamped times too.
    const lower = (await store.layerDir(b!.diffId)) as string;
    for (const p of ['etc', 'etc/app.conf', 'etc/removed', 'conf', 'var/cache', 'big']) expect(lstatSync(join(lower, p)).mtimeMs, p).toBe(epoch * 1000);
    // gzip's header: deflate, no flags, mtime 0, OS 3 (unix) on any machine.
    const head = readFileSync(join(root, 'blobs', 'sha256', gz.digest.slice(7))).subarray(0, 10);
    expect([...head.subarray(0, 8)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]);
    expect(head[9]).toBe(3);
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
