// Deferred durability (the store's crash rule, src/store/index.ts): a
// build's blobs and layers are named without fsyncs and marked unproven;
// flush() (one syncfs) proves them. Unproven content is trusted within the
// boot that wrote it, by any process; content unproven from an earlier boot
// (what a kernel crash can leave torn) counts as absent and is replaced.
// No root needed: the "earlier boot" is written by hand.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../../src/store/index.js';
import { sha256Of } from '../../../src/store/digest.js';
import { bootId } from '../../../src/store/boot.js';

const STICKY = 0o1000;
let dir: string;
let root: string;
let store: Store;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsbuild-unit-deferred-'));
  root = join(dir, 'root');
  store = await openStore(root);
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const blobPath = (digest: string) => join(root, 'blobs/sha256', digest.slice(7));
const mode = (p: string) => statSync(p).mode;

/** A layer dir in overlay form holding one file; returns its dir. */
function stepDir(name: string, content: string): string {
  const d = join(root, 'tmp', `step-${process.pid}-${name}`);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'file'), content);
  return d;
}

/** A fake diffID: the store does not hash adopted dirs (the caller's layer writer does). */
const diffIdOf = (s: string) => sha256Of(Buffer.from(`diff ${s}`));

describe('deferred durability', () => {
  it('names blobs and layers unproven until flush, and another store of this boot trusts them', async () => {
    store.deferDurability();
    const blob = await store.putBlobBytes(Buffer.from('a step layer'));
    expect(mode(blobPath(blob.digest)) & STICKY).toBe(STICKY);
    expect(existsSync(join(root, 'pending', bootId(), blob.digest.slice(7)))).toBe(true);
    const diffId = diffIdOf('a');
    const layer = await store.adoptLayerDir(diffId, blob.digest, 'application/vnd.oci.image.layer.v1.tar+gzip', stepDir('a', 'a'), 1);
    const hexDir = join(layer, '..');
    expect(readdirSync(hexDir).sort()).toEqual(['diff', 'pending.json']);
    expect(JSON.parse(readFileSync(join(hexDir, 'pending.json'), 'utf8')).bootId).toBe(bootId());

    // Another process of this boot (a second store handle) may reuse them: the page cache holds them whole.
    const other = await openStore(root);
    expect(await other.hasBlob(blob.digest)).toBe(true);
    expect(await other.layerDir(diffId)).toBe(layer);
    await other.close();

    await store.flush();
    expect(mode(blobPath(blob.digest)) & STICKY).toBe(0);
    expect(existsSync(join(root, 'pending', bootId(), blob.digest.slice(7)))).toBe(false);
    expect(readdirSync(hexDir).sort()).toEqual(['diff', 'layer.json']);
    expect(JSON.parse(readFileSync(join(hexDir, 'layer.json'), 'utf8')).diffId).toBe(diffId);
  });

  it('naming an image proves what it names, even what another writer left unproven', async () => {
    const killed = await openStore(root);
    killed.deferDurability();
    const layerBlob = await killed.putBlobBytes(Buffer.from('left by a killed build'));
    // (no flush or close: as if killed)
    const config = await store.putBlobBytes(Buffer.from('{"rootfs":{"type":"layers","diff_ids":[]}}'));
    const manifest = await store.putBlobBytes(Buffer.from(JSON.stringify({ schemaVersion: 2, config: { digest: config.digest, size: config.size }, layers: [{ digest: layerBlob.digest, size: layerBlob.size }] })));
    await store.putImage({ manifestDigest: manifest.digest, manifestMediaType: 'application/vnd.oci.image.manifest.v1+json', configDigest: config.digest, names: ['x:1'] });
    expect(mode(blobPath(layerBlob.digest)) & STICKY).toBe(0);
  });

  it('an unproven blob of an earlier boot is absent: put writes it again, durably', async () => {
    const data = Buffer.from('torn by a crash?');
    const digest = sha256Of(data);
    mkdirSync(join(root, 'blobs/sha256'), { recursive: true });
    writeFileSync(blobPath(digest), Buffer.alloc(data.length)); // torn: zeros of the right size
    const { chmodSync } = await import('node:fs');
    chmodSync(blobPath(digest), 0o644 | STICKY);
    mkdirSync(join(root, 'pending', 'an-earlier-boot'), { recursive: true });
    writeFileSync(join(root, 'pending', 'an-earlier-boot', digest.slice(7)), '');

    const reopened = await openStore(root);
    expect(existsSync(join(root, 'pending', 'an-earlier-boot'))).toBe(false); // clean() drops earlier boots' notes
    expect(await reopened.hasBlob(digest)).toBe(false);
    await reopened.putBlobBytes(data, { digest, size: data.length });
    expect(readFileSync(blobPath(digest))).toEqual(data);
    expect(mode(blobPath(digest)) & STICKY).toBe(0);
    await reopened.close();
  });

  it('a pending layer of an earlier boot is absent and is replaced by the next one made', async () => {
    const blob = await store.putBlobBytes(Buffer.from('layer blob'));
    const diffId = diffIdOf('b');
    const hexDir = join(root, 'layers', diffId.slice(7));
    mkdirSync(join(hexDir, 'diff'), { recursive: true });
    writeFileSync(join(hexDir, 'diff', 'file'), ''); // torn
    writeFileSync(join(hexDir, 'pending.json'), JSON.stringify({ diffId, bootId: 'an-earlier-boot' }));
    expect(await store.layerDir(diffId)).toBeUndefined();

    const dir2 = await store.adoptLayerDir(diffId, blob.digest, 'application/vnd.oci.image.layer.v1.tar+gzip', stepDir('b', 'whole'), 5);
    expect(readFileSync(join(dir2, 'file'), 'utf8')).toBe('whole');
    expect(existsSync(join(hexDir, 'layer.json'))).toBe(true);
    expect(existsSync(join(hexDir, 'pending.json'))).toBe(false);
    expect(readdirSync(join(root, 'tmp')).filter((n) => n.startsWith('stale-layer'))).toEqual([]);
  });

  it('a deferred writer never replaces a durable blob of the same digest', async () => {
    const data = Buffer.from('same bytes');
    const durable = await store.putBlobBytes(data);
    const deferred = await openStore(root);
    deferred.deferDurability();
    await deferred.putBlob((async function* () { yield data; })());
    expect(mode(blobPath(durable.digest)) & STICKY).toBe(0);
    await deferred.close();
  });

  it('close() proves what a failed build wrote, so its steps stay cached', async () => {
    const s = await openStore(root);
    s.deferDurability();
    const blob = await s.putBlobBytes(Buffer.from('step of a failed build'));
    await s.close();
    expect(mode(blobPath(blob.digest)) & STICKY).toBe(0);
  });
});
