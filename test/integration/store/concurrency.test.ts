// Concurrency: tsbuild processes sharing a store put the same blobs, unpack
// the same layers and name the same image at the same moment; all succeed
// and the store ends consistent. Also within one process.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../../src/store/index.js';
import { busyboxRootfs } from '../fixtures.js';
import { buildImage, entriesFromDir, makeTar, writeOciLayout } from '../oci-fixture.js';
import { exited, storeChild } from './child.js';
import { tempDir } from './helpers.js';

describe('concurrent store use', () => {
  it('several processes putting and unpacking the same layer all succeed', async () => {
    const t = tempDir('concurrent');
    try {
      const root = join(t.dir, 'root');
      const img = buildImage([await makeTar(entriesFromDir(busyboxRootfs))]);
      const layer = img.layers[0] as (typeof img.layers)[number];
      const blobFile = join(t.dir, 'layer.tgz');
      writeFileSync(blobFile, layer.blob);
      const startAt = String(Date.now() + 1500);
      const body = `
const fs = await import('node:fs');
const [file, diffId, digest, startAt, manifest, config] = args;
await new Promise((r) => setTimeout(r, Math.max(0, Number(startAt) - Date.now())));
await store.putBlob(fs.createReadStream(file), { digest });
await store.putBlobBytes(Buffer.from(manifest, 'base64'));
await store.putBlobBytes(Buffer.from(config, 'base64'));
const dir = await store.ensureLayerUnpacked(diffId, digest, 'application/vnd.oci.image.layer.v1.tar+gzip');
const rec = await store.putImage({ manifestDigest: ${JSON.stringify(img.manifestDigest)}, manifestMediaType: 'application/vnd.oci.image.manifest.v1+json', configDigest: ${JSON.stringify(img.configDigest)}, names: ['race:1'] });
process.stdout.write(dir + '\\n' + rec.id + '\\n');`;
      const args = [blobFile, layer.diffId, layer.digest, startAt, img.manifest.toString('base64'), img.config.toString('base64')];
      const children = Array.from({ length: 4 }, () => storeChild(root, body, args));
      const results = await Promise.all(children.map(exited));
      for (const r of results) expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      const dirs = new Set(results.map((r) => r.stdout.split('\n')[0]));
      expect(dirs.size).toBe(1);
      const dir = [...dirs][0] as string;
      expect(readFileSync(join(dir, 'bin/busybox')).equals(readFileSync(join(busyboxRootfs, 'bin/busybox')))).toBe(true);
      expect(readdirSync(join(root, 'tmp'))).toEqual([]);
      expect(readdirSync(join(root, 'layers'))).toEqual([layer.diffId.slice(7)]);
      const store = await openStore(root);
      expect((await store.listImages()).map((r) => r.names)).toEqual([['docker.io/library/race:1']]);
      await store.close();
    } finally {
      t.cleanup();
    }
  });

  it('concurrent unpacks of one layer within a process (one or two store handles) share the work', async () => {
    const t = tempDir('concurrent-inproc');
    try {
      const root = join(t.dir, 'root');
      const img = buildImage([await makeTar(entriesFromDir(busyboxRootfs))]);
      writeOciLayout(img, join(t.dir, 'layout'), 'latest');
      const layer = img.layers[0] as (typeof img.layers)[number];
      const a = await openStore(root);
      const b = await openStore(root);
      await Promise.all([a.putBlobBytes(layer.blob), b.putBlobBytes(layer.blob)]);
      const dirs = await Promise.all([a, b, a, b].map((s) => s.ensureLayerUnpacked(layer.diffId, layer.digest, layer.mediaType)));
      expect(new Set(dirs).size).toBe(1);
      expect(readdirSync(join(root, 'tmp'))).toEqual([]);
      await a.close();
      await b.close();
    } finally {
      t.cleanup();
    }
  });
});
