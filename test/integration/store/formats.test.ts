// Format corners of save/load: a Docker schema2 image is saved as a valid
// OCI layout (rewritten manifest, same blobs) that umoci and skopeo accept,
// and a multi-platform OCI layout loads the entry for this host.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../../src/store/index.js';
import { saveImages } from '../../../src/image/archive/save.js';
import { loadArchive } from '../../../src/image/archive/load.js';
import { busyboxRootfs } from '../fixtures.js';
import { buildImage, entriesFromDir, makeTar, sha256 } from '../oci-fixture.js';
import { tempDir } from './helpers.js';

describe('archive formats', () => {
  it('saves a Docker schema2 image as an OCI layout that umoci and skopeo read', async () => {
    const t = tempDir('schema2');
    try {
      const img = buildImage([await makeTar(entriesFromDir(busyboxRootfs))]);
      const store = await openStore(join(t.dir, 'root'));
      const layer = img.layers[0] as (typeof img.layers)[number];
      await store.putBlobBytes(layer.blob);
      const cfg = await store.putBlobBytes(img.config);
      const docker = Buffer.from(JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
        config: { mediaType: 'application/vnd.docker.container.image.v1+json', ...cfg },
        layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: layer.digest, size: layer.blob.length }],
      }));
      const m = await store.putBlobBytes(docker);
      await store.putImage({ manifestDigest: m.digest, manifestMediaType: 'application/vnd.docker.distribution.manifest.v2+json', configDigest: cfg.digest, names: ['localhost/schema2:1'] });
      const out = join(t.dir, 'oci');
      await saveImages(store, ['localhost/schema2:1'], 'oci-dir', out);
      const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
      const manifest = JSON.parse(readFileSync(join(out, 'blobs/sha256', (index.manifests[0]?.digest ?? '').slice(7)), 'utf8')) as { mediaType: string; config: { mediaType: string }; layers: { mediaType: string; digest: string }[] };
      expect(manifest.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
      expect(manifest.config.mediaType).toBe('application/vnd.oci.image.config.v1+json');
      expect(manifest.layers).toMatchObject([{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer.digest }]);
      execFileSync('umoci', ['unpack', '--image', `${out}:1`, join(t.dir, 'bundle')], { stdio: 'pipe' });
      expect(readFileSync(join(t.dir, 'bundle/rootfs/bin/busybox')).length).toBeGreaterThan(0);
      const info = JSON.parse(execFileSync('skopeo', ['inspect', `oci:${out}:1`], { encoding: 'utf8' })) as { Layers: string[] };
      expect(info.Layers).toEqual([layer.digest]);
      await store.close();
    } finally {
      t.cleanup();
    }
  });

  it('loads the entry for this platform from a multi-platform layout', async () => {
    const t = tempDir('multiarch');
    try {
      const layout = join(t.dir, 'layout');
      const blobs = join(layout, 'blobs/sha256');
      mkdirSync(blobs, { recursive: true });
      const put = (b: Buffer): void => writeFileSync(join(blobs, sha256(b).slice(7)), b);
      const mk = async (arch: string) => {
        const img = buildImage([await makeTar([{ name: 'arch', data: arch }])], { Cmd: [arch] });
        const cfg = JSON.parse(img.config.toString()) as Record<string, unknown>;
        cfg.architecture = arch;
        const config = Buffer.from(JSON.stringify(cfg));
        const manifest = Buffer.from(JSON.stringify({ ...JSON.parse(img.manifest.toString()), config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length } }));
        put(config); put(manifest); for (const l of img.layers) put(l.blob);
        return { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(manifest), size: manifest.length, platform: { os: 'linux', architecture: arch }, configDigest: sha256(config) };
      };
      const arm = await mk('arm64');
      const amd = await mk('amd64');
      const idx = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [arm, amd].map(({ configDigest: _c, ...d }) => d) }));
      put(idx);
      writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
      writeFileSync(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', digest: sha256(idx), size: idx.length, annotations: { 'io.containerd.image.name': 'localhost/multi:1' } }] }));
      const store = await openStore(join(t.dir, 'root'));
      const loaded = await loadArchive(store, layout);
      const want = process.arch === 'arm64' ? arm : amd;
      expect(loaded.map((l) => [l.record.id, l.names])).toEqual([[want.configDigest, ['localhost/multi:1']]]);
      await store.close();
    } finally {
      t.cleanup();
    }
  });
});
