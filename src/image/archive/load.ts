// `tsbuild load`: images from an OCI layout (directory or oci-archive tar)
// or a docker-archive (docker save / skopeo / podman) into the store. The
// format is detected from the files present, not from a flag or extension:
// `oci-layout` + `index.json` is OCI, `manifest.json` is docker-archive
// (docker 25+ writes both; OCI wins, it has digests).
//
// Every blob goes through the store's verified put (an OCI blob must hash to
// its file name and descriptor; docker-archive files get their digest
// computed, and uncompressed layers must equal their diffID). Images are
// named only after all their content is in, inside one lease.
import { TsbuildError } from '../../errors.js';
import { hostPlatform, parseManifest, selectPlatform } from '../manifest.js';
import { parseReference, tryParseReference } from '../../reference/index.js';
import type { ImageRecord, Store } from '../../store/index.js';
import { tempName } from '../../store/blobs.js';
import { digestHex } from '../../store/digest.js';
import { detectCompression } from '../../store/codec/compression.js';
import { IMAGE_NAME_ANNOTATION, MediaType, REF_NAME_ANNOTATION, type Descriptor, type ImageConfig, type ImageIndex, type ImageManifest } from '../oci.js';
import { headOf, openArchive, type ArchiveSource } from './source.js';
import { join } from 'node:path';

export interface LoadedImage {
  record: ImageRecord;
  names: string[];
}

function bad(src: ArchiveSource, why: string): TsbuildError {
  return new TsbuildError('E_BAD_ARCHIVE', `${src.path}: ${why}`);
}

function parseJson<T>(src: ArchiveSource, name: string, buf: Buffer): T {
  try {
    return JSON.parse(buf.toString('utf8')) as T;
  } catch {
    throw bad(src, `${name} is not valid JSON`);
  }
}

/** Load every image in the archive at `path`; returns what was named. */
export async function loadArchive(store: Store, path: string): Promise<LoadedImage[]> {
  const src = await openArchive(path, join(store.root, 'tmp'), tempName('load'));
  try {
    return await store.withLease(async () => {
      if ((await src.size('oci-layout')) !== undefined && (await src.size('index.json')) !== undefined) return loadOci(store, src);
      if ((await src.size('manifest.json')) !== undefined) return loadDocker(store, src);
      throw new TsbuildError('E_BAD_ARCHIVE', `${path}: not an image archive (no oci-layout/index.json or manifest.json)`);
    });
  } finally {
    await src.close();
  }
}

// ---- OCI layout ----

function blobPath(src: ArchiveSource, digest: string): string {
  const [alg, hex] = digest.split(':');
  if (alg !== 'sha256' || !hex) throw bad(src, `unsupported digest ${digest}`);
  digestHex(digest);
  return `blobs/${alg}/${hex}`;
}

/** Copy one blob of the layout into the store (verified against `desc`), unless present. */
async function copyBlob(store: Store, src: ArchiveSource, desc: Descriptor): Promise<void> {
  if ((await store.statBlob(desc.digest))?.size === desc.size) return;
  await store.putBlob(await src.open(blobPath(src, desc.digest)), { digest: desc.digest, size: desc.size });
}

/** Image names an OCI index entry carries: containerd's full name, else a ref.name that is a full reference. */
export function namesFromAnnotations(a: Record<string, string> | undefined): string[] {
  const full = a?.[IMAGE_NAME_ANNOTATION];
  if (full && tryParseReference(full)) return [parseReference(full).toString()];
  const ref = a?.[REF_NAME_ANNOTATION];
  // A bare tag ("latest") names no repository: the image is loaded unnamed, as docker does.
  if (ref && /[:/]/.test(ref) && tryParseReference(ref)) return [parseReference(ref).toString()];
  return [];
}

async function loadOci(store: Store, src: ArchiveSource): Promise<LoadedImage[]> {
  const index = parseJson<ImageIndex>(src, 'index.json', await src.read('index.json'));
  if (!Array.isArray(index.manifests)) throw bad(src, 'index.json has no manifests');
  const out: LoadedImage[] = [];
  for (const desc of index.manifests) {
    out.push(...await loadOciDescriptor(store, src, desc, namesFromAnnotations(desc.annotations), 0));
  }
  return out;
}

async function loadOciDescriptor(store: Store, src: ArchiveSource, desc: Descriptor, names: string[], depth: number): Promise<LoadedImage[]> {
  if (depth > 4) throw bad(src, 'indexes nested too deeply');
  await copyBlob(store, src, desc);
  const body = await store.readBlob(desc.digest, desc.size);
  const parsed = parseManifest(body, desc.mediaType ?? null, `${src.path}: ${desc.digest}`);
  if (parsed.kind === 'index') {
    const entry = selectPlatform(parsed.index, hostPlatform(), `${src.path}: ${desc.digest}`);
    const loaded = await loadOciDescriptor(store, src, entry, names, depth + 1);
    // The other platforms too, unnamed, when the layout has them: then the
    // names also keep the whole index (the host's image stays tagged for
    // commands that take one image).
    if (depth === 0 && names.length > 0) {
      for (const other of parsed.index.manifests) {
        if (other.digest === entry.digest || !other.platform || other.platform.architecture === 'unknown') continue;
        await loadOciDescriptor(store, src, other, [], depth + 1).catch(() => undefined);
      }
      const { recordLoadedIndex } = await import('./index-archive.js');
      await recordLoadedIndex(store, names, body.toString('utf8'), parsed.mediaType);
    }
    return loaded;
  }
  const m = parsed.manifest;
  await copyBlob(store, src, m.config);
  for (const l of m.layers) await copyBlob(store, src, l);
  const record = await store.putImage({ manifestDigest: desc.digest, manifestMediaType: parsed.mediaType, configDigest: m.config.digest, names });
  return [{ record, names: record.names.filter((n) => names.includes(n)) }];
}

// ---- docker-archive ----

interface DockerManifestItem {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

const LAYER_TYPES = { none: MediaType.ociLayer, gzip: MediaType.ociLayerGzip, zstd: MediaType.ociLayerZstd } as const;

async function loadDocker(store: Store, src: ArchiveSource): Promise<LoadedImage[]> {
  const items = parseJson<DockerManifestItem[]>(src, 'manifest.json', await src.read('manifest.json'));
  if (!Array.isArray(items)) throw bad(src, 'manifest.json is not a list');
  const out: LoadedImage[] = [];
  for (const item of items) {
    if (typeof item?.Config !== 'string' || !Array.isArray(item.Layers)) throw bad(src, 'manifest.json entry lacks Config or Layers');
    const cfgBytes = await src.read(item.Config, 8 * 1024 * 1024);
    const config = parseJson<ImageConfig>(src, item.Config, cfgBytes);
    const diffIds = config.rootfs?.diff_ids;
    if (!Array.isArray(diffIds) || diffIds.length !== item.Layers.length) {
      throw bad(src, `${item.Config} lists ${diffIds?.length ?? 0} diff_ids for ${item.Layers.length} layers`);
    }
    const cfg = await store.putBlobBytes(cfgBytes);
    const layers: Descriptor[] = [];
    for (const [i, name] of item.Layers.entries()) layers.push(await putDockerLayer(store, src, name, diffIds[i] as string));
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: cfg.digest, size: cfg.size },
      layers,
    };
    const mbytes = Buffer.from(JSON.stringify(manifest));
    const m = await store.putBlobBytes(mbytes);
    const names = (item.RepoTags ?? []).map((t) => parseReference(t).toString());
    const record = await store.putImage({ manifestDigest: m.digest, manifestMediaType: MediaType.ociManifest, configDigest: cfg.digest, names });
    out.push({ record, names });
  }
  return out;
}

/** A docker-archive layer file into the store; its media type follows its magic bytes. */
async function putDockerLayer(store: Store, src: ArchiveSource, name: string, diffId: string): Promise<Descriptor> {
  const kind = detectCompression(await headOf(src, name));
  const size = await src.size(name);
  // An uncompressed layer is its own diffID: verify it as that digest.
  const expected = kind === 'none' ? { digest: diffId, size } : { size };
  const info = await store.putBlob(await src.open(name), expected);
  return { mediaType: LAYER_TYPES[kind], digest: info.digest, size: info.size };
}
