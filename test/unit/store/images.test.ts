// Image records without root: names normalised as docker does, lookups by
// short name, full name, name@digest, ID and ID prefix, tags that move
// between images, and rmi/prune freeing only unused content.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type ImageRecord, type Store } from '../../../src/store/index.js';

let dir: string;
let root: string;
let store: Store;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsbuild-unit-images-'));
  root = join(dir, 'root');
  store = await openStore(root);
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** An image whose layers are blobs with the given contents (never unpacked here). */
async function image(layers: string[], names: string[], tag = 'x'): Promise<ImageRecord> {
  const descs = [];
  for (const l of layers) descs.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...(await store.putBlobBytes(Buffer.from(l))) });
  const cfg = await store.putBlobBytes(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', tag, rootfs: { type: 'layers', diff_ids: descs.map((d) => d.digest) } })));
  const m = await store.putBlobBytes(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...cfg }, layers: descs })));
  return store.putImage({ manifestDigest: m.digest, manifestMediaType: 'application/vnd.oci.image.manifest.v1+json', configDigest: cfg.digest, names });
}

const blobCount = (): number => readdirSync(join(root, 'blobs/sha256')).length;

describe('image records', () => {
  it('normalises names and finds them by every spelling', async () => {
    const rec = await image(['a'], ['busybox', 'localhost:5000/team/app:1.2']);
    expect(rec.names).toEqual(['docker.io/library/busybox:latest', 'localhost:5000/team/app:1.2']);
    for (const ref of ['busybox', 'busybox:latest', 'library/busybox', 'docker.io/library/busybox:latest', 'localhost:5000/team/app:1.2', rec.id, rec.id.slice(7, 19), rec.id.slice(7), rec.manifestDigest, `busybox@${rec.manifestDigest}`]) {
      expect((await store.resolveImage(ref)).manifestDigest).toBe(rec.manifestDigest);
    }
    await expect(store.resolveImage('busybox:other')).rejects.toMatchObject({ code: 'E_IMAGE_NOT_FOUND' });
    await expect(store.resolveImage('Bad Name')).rejects.toMatchObject({ code: 'E_IMAGE_NOT_FOUND' });
  });

  it('finds a locally tagged short name again (NAME:TAG)', async () => {
    const rec = await image(['a'], []);
    await store.tagImage(rec.id, 'myapp:1');
    expect((await store.resolveImage('myapp:1')).id).toBe(rec.id);
    expect((await store.listImages())[0]?.names).toEqual(['docker.io/library/myapp:1']);
  });

  it('moves a name from one image to another, leaving the first dangling', async () => {
    const one = await image(['a'], ['app:1'], 'one');
    const two = await image(['b'], ['app:1'], 'two');
    expect((await store.resolveImage('app:1')).id).toBe(two.id);
    expect((await store.resolveImage(one.id)).names).toEqual([]);
  });

  it('rmi of one of several names only untags; of the last name removes the image and its blobs', async () => {
    await image(['a', 'shared'], ['app:1', 'app:2'], 'one');
    const before = blobCount();
    expect(await store.removeImage('app:1')).toEqual({ untagged: ['docker.io/library/app:1'], deleted: [] });
    expect(blobCount()).toBe(before);
    const res = await store.removeImage('app:2');
    expect(res.untagged).toEqual(['docker.io/library/app:2']);
    expect(res.deleted).toHaveLength(1);
    expect(blobCount()).toBe(0);
  });

  it('keeps blobs another image shares', async () => {
    await image(['a', 'shared'], ['one:1'], 'one');
    const two = await image(['b', 'shared'], ['two:1'], 'two');
    await store.removeImage('one:1');
    // two's manifest, config, b and shared remain
    expect(blobCount()).toBe(4);
    const { manifest } = await store.readImage(two);
    for (const l of manifest.layers) expect(await store.hasBlob(l.digest)).toBe(true);
  });

  it('refuses to remove an image a container uses unless forced, and then only untags it', async () => {
    const rec = await image(['a'], ['app:1']);
    mkdirSync(join(root, 'containers/c0ffee'), { recursive: true });
    writeFileSync(join(root, 'containers/c0ffee/state.json'), JSON.stringify({ id: 'c0ffee', imageId: rec.id, layerDirs: [] }));
    await expect(store.removeImage('app:1')).rejects.toMatchObject({ code: 'E_IMAGE_IN_USE' });
    expect(await store.removeImage('app:1', { force: true })).toEqual({ untagged: ['docker.io/library/app:1'], deleted: [] });
    const n = blobCount();
    expect((await store.prune()).imagesRemoved).toBe(0); // still used by the container
    expect(blobCount()).toBe(n);
    rmSync(join(root, 'containers/c0ffee'), { recursive: true });
    const res = await store.prune();
    expect(res.imagesRemoved).toBe(1);
    expect(blobCount()).toBe(0);
  });

  it('refuses an ID that several names share unless forced', async () => {
    const rec = await image(['a'], ['app:1', 'app:2']);
    await expect(store.removeImage(rec.id.slice(7, 19))).rejects.toMatchObject({ code: 'E_IMAGE_CONFLICT' });
    expect((await store.removeImage(rec.id.slice(7, 19), { force: true })).deleted).toEqual([rec.id]);
  });

  it('prune frees blobs no image references and keeps referenced ones', async () => {
    const rec = await image(['kept'], ['app:1']);
    const stray = await store.putBlobBytes(Buffer.from('stray'));
    const res = await store.prune();
    expect(res.blobsRemoved).toBe(1);
    expect(await store.hasBlob(stray.digest)).toBe(false);
    expect(await store.hasBlob(rec.manifestDigest)).toBe(true);
  });

  it('putImage refuses records whose blobs are missing', async () => {
    await expect(store.putImage({ manifestDigest: `sha256:${'a'.repeat(64)}`, manifestMediaType: 'x', configDigest: `sha256:${'b'.repeat(64)}` })).rejects.toMatchObject({ code: 'E_BLOB_NOT_FOUND' });
  });

  it('does not let prune run inside a lease (it would wait for itself)', async () => {
    await expect(store.withLease(() => store.prune())).rejects.toMatchObject({ code: 'E_INTERNAL' });
  });
});
