// Test images made from directories, without any image tool: a layer tar
// written with tar-stream from a directory walk, then an OCI image layout
// (dir or tar) around it. Shared by the store's and the runtime's tests
// (e.g. `makeOciLayoutFromDir(busyboxRootfs, dir, { tag: 'latest' })`, then
// `tsbuild load -i dir` or `skopeo copy oci:dir:latest ...`).
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';

export type TarEntry = Partial<tar.Header> & { name: string; data?: Buffer | string };

/** A tar (uncompressed) of the given entries, in order. */
export async function makeTar(entries: TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => { for await (const c of pack) chunks.push(c as Buffer); })();
  for (const e of entries) {
    const { data, ...header } = e;
    const body = data === undefined ? undefined : Buffer.from(data);
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null): void => (err ? reject(err) : resolve());
      if (body) pack.entry({ ...header, size: body.length }, body, cb);
      else pack.entry({ size: 0, ...header }, cb);
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** Entries for every file under `dir` (parents first), as tar would list them. */
export function entriesFromDir(dir: string): TarEntry[] {
  const out: TarEntry[] = [];
  const inodes = new Map<string, string>();
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const p = join(dir, r);
      const st = lstatSync(p);
      const common = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime };
      if (st.isDirectory()) {
        out.push({ ...common, name: `${r}/`, type: 'directory' });
        walk(r);
      } else if (st.isSymbolicLink()) {
        out.push({ ...common, name: r, type: 'symlink', linkname: readlinkSync(p) });
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? inodes.get(key) : undefined;
        if (first) out.push({ ...common, name: r, type: 'link', linkname: first });
        else {
          if (st.nlink > 1) inodes.set(key, r);
          out.push({ ...common, name: r, type: 'file', data: readFileSync(p) });
        }
      }
    }
  };
  walk('');
  return out;
}

export function sha256(b: Buffer | string): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

export interface BuiltImage {
  manifest: Buffer;
  manifestDigest: string;
  config: Buffer;
  configDigest: string;
  layers: { blob: Buffer; digest: string; diffId: string; mediaType: string }[];
}

/** An OCI image (manifest, config, gzip layers) from layer tars, all in memory. */
export function buildImage(layerTars: Buffer[], config: Record<string, unknown> = {}, opts: { compress?: boolean } = {}): BuiltImage {
  const layers = layerTars.map((t) => {
    const blob = opts.compress === false ? t : gzipSync(t);
    return { blob, digest: sha256(blob), diffId: sha256(t), mediaType: `application/vnd.oci.image.layer.v1.tar${opts.compress === false ? '' : '+gzip'}` };
  });
  const cfg = Buffer.from(JSON.stringify({
    created: '2024-01-01T00:00:00Z',
    architecture: 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/bin/sh'], ...config },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map(() => ({ created: '2024-01-01T00:00:00Z', created_by: 'oci-fixture' })),
  }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(cfg), size: cfg.length },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.blob.length })),
  }));
  return { manifest, manifestDigest: sha256(manifest), config: cfg, configDigest: sha256(cfg), layers };
}

/** Write `img` as an OCI image layout directory, its manifest named `tag` (org.opencontainers.image.ref.name). */
export function writeOciLayout(img: BuiltImage, layoutDir: string, tag: string, extraAnnotations: Record<string, string> = {}): void {
  const blobs = join(layoutDir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const put = (b: Buffer): void => writeFileSync(join(blobs, sha256(b).slice(7)), b);
  put(img.manifest);
  put(img.config);
  for (const l of img.layers) put(l.blob);
  writeFileSync(join(layoutDir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(layoutDir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: img.manifestDigest,
      size: img.manifest.length,
      annotations: { 'org.opencontainers.image.ref.name': tag, ...extraAnnotations },
    }],
  }));
}

/**
 * An OCI image layout at `layoutDir` holding one image whose single layer is
 * the contents of `dir` (e.g. the busybox rootfs). Returns the built image.
 */
export async function makeOciLayoutFromDir(dir: string, layoutDir: string, opts: { tag?: string; config?: Record<string, unknown>; name?: string } = {}): Promise<BuiltImage> {
  const layer = await makeTar(entriesFromDir(dir));
  const img = buildImage([layer], opts.config);
  writeOciLayout(img, layoutDir, opts.tag ?? 'latest', opts.name ? { 'io.containerd.image.name': opts.name } : {});
  return img;
}
