// Test images as OCI layouts, for skopeo to push into a real registry.
// A layer is either a directory (tarred by GNU tar, numeric owners) or a set
// of in-memory files (packed with tar-stream); layers are gzipped. A layout
// may hold one image or a multi-platform index.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync, constants } from 'node:zlib';
import { pack } from 'tar-stream';

export type LayerSpec = { dir: string } | { files: Record<string, string | Buffer> };

export interface BuiltImage {
  manifestDigest: string;
  manifestSize: number;
  configDigest: string;
  layers: Array<{ digest: string; diffId: string; size: number }>;
}

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function tarFiles(files: Record<string, string | Buffer>): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((r) => p.on('end', () => r()));
  for (const [name, content] of Object.entries(files)) {
    await new Promise<void>((resolve, reject) => p.entry({ name, mode: 0o644, mtime: new Date(0) }, content, (err) => (err ? reject(err) : resolve())));
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

async function layerTar(spec: LayerSpec): Promise<Buffer> {
  if ('dir' in spec) {
    return execFileSync('tar', ['--numeric-owner', '--owner=0', '--group=0', '--sort=name', '--mtime=@0', '-C', spec.dir, '-cf', '-', '.'], { maxBuffer: 1 << 30 });
  }
  return tarFiles(spec.files);
}

function writeBlob(layout: string, data: Buffer): string {
  const digest = sha(data);
  writeFileSync(join(layout, 'blobs/sha256', digest.slice(7)), data);
  return digest;
}

export interface ImageSpec {
  layers: LayerSpec[];
  architecture?: string;
  variant?: string;
  cmd?: string[];
  env?: string[];
  /** Docker schema2 media types instead of OCI. */
  docker?: boolean;
}

/** Write one image's blobs into a layout; returns its descriptors. */
export async function addImage(layout: string, spec: ImageSpec): Promise<BuiltImage> {
  mkdirSync(join(layout, 'blobs/sha256'), { recursive: true });
  const layers: BuiltImage['layers'] = [];
  for (const l of spec.layers) {
    const tar = await layerTar(l);
    // Random data doesn't compress: use the fastest level for big layers.
    const gz = gzipSync(tar, { level: tar.length > 8 << 20 ? constants.Z_BEST_SPEED : 6 });
    layers.push({ digest: writeBlob(layout, gz), diffId: sha(tar), size: gz.length });
  }
  const config = Buffer.from(JSON.stringify({
    created: '2024-01-01T00:00:00Z',
    architecture: spec.architecture ?? 'amd64',
    ...(spec.variant ? { variant: spec.variant } : {}),
    os: 'linux',
    config: { Env: spec.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: spec.cmd ?? ['/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map(() => ({ created: '2024-01-01T00:00:00Z', created_by: 'test fixture' })),
  }));
  const configDigest = writeBlob(layout, config);
  const mt = spec.docker
    ? { manifest: 'application/vnd.docker.distribution.manifest.v2+json', config: 'application/vnd.docker.container.image.v1+json', layer: 'application/vnd.docker.image.rootfs.diff.tar.gzip' }
    : { manifest: 'application/vnd.oci.image.manifest.v1+json', config: 'application/vnd.oci.image.config.v1+json', layer: 'application/vnd.oci.image.layer.v1.tar+gzip' };
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: mt.manifest,
    config: { mediaType: mt.config, digest: configDigest, size: config.length },
    layers: layers.map((l) => ({ mediaType: mt.layer, digest: l.digest, size: l.size })),
  }));
  return { manifestDigest: writeBlob(layout, manifest), manifestSize: manifest.length, configDigest, layers };
}

function writeIndex(layout: string, manifests: unknown[]): void {
  writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }));
}

/** A layout holding one image under `tag`. */
export async function makeLayout(layout: string, tag: string, spec: ImageSpec): Promise<BuiltImage> {
  rmSync(layout, { recursive: true, force: true });
  const img = await addImage(layout, spec);
  writeIndex(layout, [{
    mediaType: spec.docker ? 'application/vnd.docker.distribution.manifest.v2+json' : 'application/vnd.oci.image.manifest.v1+json',
    digest: img.manifestDigest, size: img.manifestSize, annotations: { 'org.opencontainers.image.ref.name': tag },
  }]);
  return img;
}

/** A layout whose `tag` is a multi-platform OCI index over the given images. */
export async function makeMultiArchLayout(layout: string, tag: string, specs: ImageSpec[]): Promise<{ indexDigest: string; images: BuiltImage[] }> {
  rmSync(layout, { recursive: true, force: true });
  const images: BuiltImage[] = [];
  for (const s of specs) images.push(await addImage(layout, s));
  const index = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: images.map((img, i) => ({
      mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: img.manifestDigest, size: img.manifestSize,
      platform: { os: 'linux', architecture: specs[i]?.architecture ?? 'amd64', ...(specs[i]?.variant ? { variant: specs[i]?.variant } : {}) },
    })),
  }));
  const indexDigest = writeBlob(layout, index);
  writeIndex(layout, [{ mediaType: 'application/vnd.oci.image.index.v1+json', digest: indexDigest, size: index.length, annotations: { 'org.opencontainers.image.ref.name': tag } }]);
  return { indexDigest, images };
}

const execFileAsync = promisify(execFile);

/**
 * Push a layout's tag with skopeo (the oracle) to `dest` (`host/name:tag`).
 * Asynchronous: a token server in this process must keep answering meanwhile.
 */
export async function skopeoPush(layout: string, tag: string, dest: string, opts: { creds?: string; all?: boolean; format?: 'v2s2' | 'oci' } = {}): Promise<void> {
  await execFileAsync('skopeo', [
    'copy', '--quiet', '--dest-tls-verify=false',
    ...(opts.creds ? ['--dest-creds', opts.creds] : []),
    ...(opts.all ? ['--all'] : []),
    ...(opts.format ? ['--format', opts.format] : []),
    `oci:${layout}:${tag}`, `docker://${dest}`,
  ], { timeout: 120_000, maxBuffer: 1 << 24 });
}

/** The manifest digest skopeo sees at `ref` (what a registry serves). */
export async function skopeoDigest(ref: string, creds?: string): Promise<string> {
  const { stdout } = await execFileAsync('skopeo', ['inspect', '--raw', '--tls-verify=false', ...(creds ? ['--creds', creds] : []), `docker://${ref}`], { encoding: 'buffer', timeout: 60_000 });
  return sha(stdout);
}
