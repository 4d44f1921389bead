// `tsbuild save`: images from the store as an OCI layout directory, an
// oci-archive tar, or a docker-archive tar (docker load / podman load).
//
// OCI outputs hold the store's blobs unchanged, and a built layer's gzip
// blob (made on demand, store/distributable.ts); a Docker schema2 image gets
// an equivalent OCI manifest (same config and layer blobs, OCI media types),
// since umoci and the OCI spec accept only OCI types in a layout. The index
// names each manifest by tag (org.opencontainers.image.ref.name, what
// `umoci --image DIR:TAG` and `skopeo oci:DIR:TAG` look for) and by full
// name (io.containerd.image.name, what docker and our load read back).
// docker-archive layers are uncompressed tars named by diffID, checked
// against that diffID while written, as `docker save` makes them.
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { TsbuildError } from '../../errors.js';
import { parseReference, tryParseReference } from '../../reference/index.js';
import { tempName } from '../../store/blobs.js';
import { digestHex, HashingTransform, sha256Of } from '../../store/digest.js';
import type { ImageRecord, Store } from '../../store/index.js';
import { decompressor, detectFileCompression } from '../../store/codec/compression.js';
import { IMAGE_NAME_ANNOTATION, MediaType, REF_NAME_ANNOTATION, type Descriptor, type ImageConfig, type ImageIndex, type ImageManifest } from '../oci.js';
import { DirSink, TarSink, type ArchiveSink } from './sink.js';
import { writeIndexTo } from './index-archive.js';
import { findIndexRecord, type IndexRecord } from '../../store/index-records.js';
import { distributableManifest } from '../../store/distributable.js';

export type SaveFormat = 'oci-dir' | 'oci-archive' | 'docker-archive';
export const SAVE_FORMATS: readonly SaveFormat[] = ['oci-dir', 'oci-archive', 'docker-archive'];

interface Resolved {
  record: ImageRecord;
  /** Normalised names to record in the archive. */
  names: string[];
  manifest: ImageManifest;
  config: ImageConfig;
}

async function resolve(store: Store, ref: string): Promise<Resolved> {
  const record = await store.resolveImage(ref);
  const { manifest, config } = await store.readImage(record);
  const asName = tryParseReference(ref)?.toString();
  // A name argument saves that name; an ID saves every name the image has.
  const names = asName && record.names.includes(asName) ? [asName] : record.names;
  return { record, names, manifest, config };
}

/** Save `refs` to `dest` in `format`. Output appears only when complete. */
export async function saveImages(store: Store, refs: string[], format: SaveFormat, dest: string): Promise<void> {
  const images: Resolved[] = [];
  const indexes: IndexRecord[] = [];
  for (const r of refs) {
    // A name of a multi-platform image saves the whole index (index-archive.ts).
    const rec = /^(sha256:)?[a-f0-9]{4,64}$/.test(r) ? undefined : findIndexRecord(store.root, r);
    if (rec) indexes.push(rec);
    else images.push(await resolve(store, r));
  }
  if (indexes.length > 0 && format === 'docker-archive') {
    throw new TsbuildError('E_USAGE', `${indexes[0]?.name} is a multi-platform image; docker-archive holds single images: use oci-dir or oci-archive`, { exitCode: 125 });
  }
  const sink: ArchiveSink = format === 'oci-dir' ? new DirSink(dest) : new TarSink(dest);
  // The lease keeps prune off the gzip blobs made for built layers until they are copied.
  await store.withLease(() => writeAll(store, images, indexes, format, dest, sink));
}

async function writeAll(store: Store, images: Resolved[], indexes: IndexRecord[], format: SaveFormat, dest: string, sink: ArchiveSink): Promise<void> {
  try {
    if (format === 'docker-archive') await writeDocker(store, images, sink);
    else {
      const extra: Descriptor[] = [];
      for (const rec of indexes) extra.push(await writeIndexTo(store, sink, rec));
      await writeOci(store, images, sink, format === 'oci-dir' ? dest : undefined, extra);
    }
    await sink.commit();
  } catch (err) {
    await sink.abort();
    throw err;
  }
}

// ---- OCI ----

const TO_OCI: Record<string, string> = {
  [MediaType.dockerLayerGzip]: MediaType.ociLayerGzip,
  [MediaType.dockerLayerForeignGzip]: MediaType.ociLayerNondistGzip,
  [MediaType.dockerConfig]: MediaType.ociConfig,
};

/**
 * The manifest to put in an OCI layout: the stored one if it is OCI (with
 * built layers as their gzip blobs, made on demand: store/distributable.ts,
 * as BuildKit's oci exporter compresses), else an OCI rewrite.
 */
async function ociManifest(store: Store, img: Resolved): Promise<{ bytes: Buffer; desc: Descriptor; manifest: ImageManifest }> {
  if (img.record.manifestMediaType === MediaType.ociManifest) {
    const out = await distributableManifest(store, await store.readBlob(img.record.manifestDigest), img.manifest);
    return { bytes: out.bytes, desc: { mediaType: MediaType.ociManifest, digest: out.digest, size: out.bytes.length }, manifest: out.manifest };
  }
  const m = img.manifest;
  const conv = (d: Descriptor): Descriptor => ({ ...d, mediaType: TO_OCI[d.mediaType] ?? d.mediaType });
  const oci: ImageManifest = { schemaVersion: 2, mediaType: MediaType.ociManifest, config: conv(m.config), layers: m.layers.map(conv) };
  if (m.annotations) oci.annotations = m.annotations;
  const bytes = Buffer.from(JSON.stringify(oci));
  return { bytes, desc: { mediaType: MediaType.ociManifest, digest: sha256Of(bytes), size: bytes.length }, manifest: oci };
}

async function copyBlobTo(store: Store, sink: ArchiveSink, d: Descriptor): Promise<void> {
  const name = `blobs/sha256/${digestHex(d.digest)}`;
  if (await sink.has(name, d.size)) return;
  await sink.addStream(name, d.size, await store.openBlob(d.digest, d.size));
}

/** The index.json already in an OCI directory we add to (skopeo and umoci keep several images in one layout). */
async function existingIndex(dir: string | undefined): Promise<ImageIndex | undefined> {
  if (!dir) return undefined;
  try {
    const idx = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as ImageIndex;
    return Array.isArray(idx.manifests) ? idx : undefined;
  } catch {
    return undefined;
  }
}

async function writeOci(store: Store, images: Resolved[], sink: ArchiveSink, dir: string | undefined, extra: Descriptor[] = []): Promise<void> {
  const prior = await existingIndex(dir);
  const entries: Descriptor[] = [...extra];
  for (const img of images) {
    const { bytes, desc, manifest } = await ociManifest(store, img);
    await copyBlobTo(store, sink, manifest.config);
    for (const l of manifest.layers) await copyBlobTo(store, sink, l);
    const mname = `blobs/sha256/${digestHex(desc.digest)}`;
    if (!(await sink.has(mname, desc.size))) await sink.addBuffer(mname, bytes);
    const names = img.names.length ? img.names : [undefined];
    for (const n of names) {
      const ref = n ? parseReference(n) : undefined;
      const annotations: Record<string, string> = {};
      if (ref) {
        annotations[IMAGE_NAME_ANNOTATION] = ref.toString();
        if (ref.tag) annotations[REF_NAME_ANNOTATION] = ref.tag;
      }
      entries.push({ ...desc, ...(ref ? { annotations } : {}), platform: { architecture: img.config.architecture, os: img.config.os, ...(img.config.variant ? { variant: img.config.variant } : {}) } });
    }
  }
  // Entries we write replace older ones with the same tag or name.
  const taken = new Set(entries.flatMap((e) => [e.annotations?.[REF_NAME_ANNOTATION], e.annotations?.[IMAGE_NAME_ANNOTATION]]).filter(Boolean));
  const kept = (prior?.manifests ?? []).filter((e) => !taken.has(e.annotations?.[REF_NAME_ANNOTATION]) && !taken.has(e.annotations?.[IMAGE_NAME_ANNOTATION]));
  const index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [...kept, ...entries] };
  await sink.addBuffer('oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })));
  await sink.addBuffer('index.json', Buffer.from(JSON.stringify(index)));
}

// ---- docker-archive ----

/** `docker save` spelling: `busybox:latest`, `user/app:1`, `localhost:5000/a:1`. */
function repoTag(name: string): string | undefined {
  const ref = parseReference(name);
  return ref.tag ? ref.familiarName() : undefined;
}

async function writeDockerLayer(store: Store, sink: ArchiveSink, layer: Descriptor, diffId: string): Promise<void> {
  const name = `${digestHex(diffId)}/layer.tar`;
  if (await sink.has(name, 0)) return;
  await store.materializeBlob(layer.digest); // a lazy layer (store/lazy-blobs.ts) must be a file before it is sniffed
  const blobPath = join(store.root, 'blobs', 'sha256', digestHex(layer.digest));
  const kind = await detectFileCompression(blobPath).catch(() => 'none' as const);
  if (kind === 'none') {
    if (layer.digest !== diffId) throw new TsbuildError('E_DIGEST_MISMATCH', `layer ${layer.digest}: digest mismatch for diffID ${diffId}`);
    await sink.addStream(name, layer.size, await store.openBlob(layer.digest, layer.size));
    return;
  }
  // The tar entry needs its size up front: decompress to a temp file first, checking the diffID.
  const tmp = join(store.root, 'tmp', tempName('save'));
  try {
    const hash = new HashingTransform();
    await pipeline(await store.openBlob(layer.digest, layer.size), decompressor(kind), hash, createWriteStream(tmp, { mode: 0o600 }));
    if (hash.digest() !== diffId) {
      throw new TsbuildError('E_DIGEST_MISMATCH', `layer ${layer.digest}: digest mismatch for diffID ${diffId}: it uncompresses to ${hash.digest()}`);
    }
    await sink.addStream(name, hash.bytes, createReadStream(tmp, { highWaterMark: 1 << 20 }));
  } finally {
    await rm(tmp, { force: true });
  }
}

async function writeDocker(store: Store, images: Resolved[], sink: ArchiveSink): Promise<void> {
  const manifest: { Config: string; RepoTags: string[] | null; Layers: string[] }[] = [];
  for (const img of images) {
    const diffIds = img.config.rootfs.diff_ids;
    if (diffIds.length !== img.manifest.layers.length) {
      throw new TsbuildError('E_CORRUPT_IMAGE', `image ${img.record.id}: manifest has ${img.manifest.layers.length} layers but its config lists ${diffIds.length} diff_ids`);
    }
    const cfgName = `${digestHex(img.record.configDigest)}.json`;
    if (!(await sink.has(cfgName, 0))) await sink.addBuffer(cfgName, await store.readBlob(img.record.configDigest));
    for (const [i, l] of img.manifest.layers.entries()) await writeDockerLayer(store, sink, l, diffIds[i] as string);
    const tags = img.names.map(repoTag).filter((t): t is string => t !== undefined);
    manifest.push({ Config: cfgName, RepoTags: tags.length ? tags : null, Layers: diffIds.map((d) => `${digestHex(d)}/layer.tar`) });
  }
  await sink.addBuffer('manifest.json', Buffer.from(JSON.stringify(manifest)));
}
