// Writes an image into the store: its config and manifest blobs, then its
// name. The one place build and commit make an image, so both name it the
// same way (OCI manifest, config digest as the image ID) and both keep the
// store's crash rule: everything a name covers is made durable first
// (src/store/index.ts, rule 1).
import { TsbuildError } from '../errors.js';
import { MediaType, type Descriptor, type ImageConfig, type ImageManifest } from '../image/oci.js';
import type { ImageRecord, Store } from '../store/index.js';

/** A layer of the image to write: its blob (or, built here, its diffID) descriptor and its diffID. */
export interface ImageLayer {
  mediaType: string;
  digest: string;
  size: number;
  diffId: string;
}

export interface WrittenImage {
  record: ImageRecord;
  manifestDigest: string;
  manifestSize: number;
}

export async function writeImage(store: Store, config: ImageConfig, layers: readonly ImageLayer[], names: readonly string[]): Promise<WrittenImage> {
  const configBlob = await store.putBlobBytes(Buffer.from(JSON.stringify(config)));
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: configBlob.digest, size: configBlob.size },
    layers: layers.map((l): Descriptor => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  const manifestBlob = await store.putBlobBytes(manifestBytes);
  // A build's one sync; it also proves layers of the image that another
  // (killed) build of this boot left pending, so the name covers them.
  await store.flush({ diffIds: layers.map((l) => l.diffId), blobs: layers.map((l) => l.digest) });
  const record = await store.putImage({ manifestDigest: manifestBlob.digest, manifestMediaType: MediaType.ociManifest, configDigest: configBlob.digest, names: [...names], layerDigests: manifest.layers.map((l) => l.digest) });
  if (record.id !== configBlob.digest) throw new TsbuildError('E_INTERNAL', 'image record does not match its config');
  return { record, manifestDigest: manifestBlob.digest, manifestSize: manifestBytes.length };
}
