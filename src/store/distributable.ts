// The manifest an image leaves the store with. A built layer is named in
// the local manifest by its diffID with the uncompressed media type (the
// store keeps it unpacked only, blob-on-demand.ts); what goes to a registry
// or an OCI archive names its gzip blob instead, made here on demand. The
// local image ID (the config digest, over diffIDs) is the same either way,
// so the image exists before anything is compressed, as in BuildKit, which
// also compresses at export.
//
// The result is a function of the local manifest and the layers' tars: the
// same on every store and every time (the reproducibility tests push from
// two stores). A manifest with no built layer (pulled, loaded) is returned
// byte for byte, so its digest stays the registry's.
import type { Descriptor, ImageManifest } from '../image/oci.js';
import { sha256Of } from './digest.js';
import type { GzipChoice, Store } from './index.js';

export interface DistributableManifest {
  bytes: Buffer;
  digest: string;
  manifest: ImageManifest;
  /** True if some layer was swapped for its compressed blob. */
  converted: boolean;
}

/** The descriptor of `layer` as it leaves the store: its gzip blob if the store built it, else itself. */
export async function distributableLayer(store: Store, layer: Descriptor, choice?: GzipChoice): Promise<Descriptor> {
  if (!(await store.isBuiltLayer(layer.digest))) return layer;
  const blob = await store.compressedLayerBlob(layer.digest, choice);
  const { annotations } = layer;
  return { mediaType: blob.mediaType, digest: blob.digest, size: blob.size, ...(annotations ? { annotations } : {}) };
}

/**
 * The manifest to push or export for the stored manifest `bytes`: built
 * layers replaced by their gzip blobs (made now unless made before, two
 * layers at a time, each on every core). Hold a lease until the blobs are
 * copied.
 */
export async function distributableManifest(store: Store, bytes: Buffer, manifest: ImageManifest, choice?: GzipChoice): Promise<DistributableManifest> {
  const built = await Promise.all(manifest.layers.map((l) => store.isBuiltLayer(l.digest)));
  if (!built.some(Boolean)) return { bytes, digest: sha256Of(bytes), manifest, converted: false };
  const layers: Descriptor[] = [];
  // Bottom first, two at a time: the compressor already uses every core, a
  // second layer only fills its gaps (reading files, hashing).
  let next = 0;
  const slots = manifest.layers.map(() => undefined as Descriptor | undefined);
  const worker = async (): Promise<void> => {
    for (let i = next++; i < manifest.layers.length; i = next++) slots[i] = await distributableLayer(store, manifest.layers[i] as Descriptor, choice);
  };
  await Promise.all([worker(), worker()]);
  for (const d of slots) layers.push(d as Descriptor);
  // Same key order as the stored manifest (a parsed object keeps it).
  const out: ImageManifest = { ...manifest, layers };
  const outBytes = Buffer.from(JSON.stringify(out));
  return { bytes: outBytes, digest: sha256Of(outBytes), manifest: out, converted: true };
}
