// Multi-platform images in archives. save: an index the store keeps under a
// name goes into an OCI layout whole (every platform's manifest, config and
// layers; its exact bytes unless a platform image has built layers, which go
// in as gzip blobs so the index names the rewritten manifests), named in
// index.json like an image.
// load: a named index in a layout brings in every platform whose blobs the
// layout holds, and is recorded under its names when all of them are there.
// docker-archive has no place for an index: saving one there is an error.
import { TsbuildError } from '../../errors.js';
import { parseReference } from '../../reference/index.js';
import { digestHex, sha256Of } from '../../store/digest.js';
import { distributableManifest } from '../../store/distributable.js';
import type { Store } from '../../store/index.js';
import { putIndexRecord, type IndexRecord, parseIndexRecord } from '../../store/index-records.js';
import { IMAGE_NAME_ANNOTATION, REF_NAME_ANNOTATION, type Descriptor } from '../oci.js';
import type { ArchiveSink } from './sink.js';

async function copyBlob(store: Store, sink: ArchiveSink, d: Descriptor): Promise<void> {
  const name = `blobs/sha256/${digestHex(d.digest)}`;
  if (await sink.has(name, d.size)) return;
  await sink.addStream(name, d.size, await store.openBlob(d.digest, d.size));
}

/** Writes `rec`'s index and all it lists into `sink`; returns the index.json entry. */
export async function writeIndexTo(store: Store, sink: ArchiveSink, rec: IndexRecord): Promise<Descriptor> {
  const images = await store.listImages();
  const index = parseIndexRecord(rec);
  let changed = false;
  const manifests: Descriptor[] = [];
  for (const d of index.manifests) {
    const record = images.find((r) => r.manifestDigest === d.digest);
    if (!record) throw new TsbuildError('E_IMAGE_NOT_FOUND', `image ${d.digest} of ${rec.name} is not in the store`);
    const { manifest: stored } = await store.readImage(record);
    // Built layers go in as their gzip blobs; the platform manifest (and so the index) then names those.
    const out = await distributableManifest(store, await store.readBlob(record.manifestDigest), stored);
    for (const b of [out.manifest.config, ...out.manifest.layers]) await copyBlob(store, sink, b);
    const mname = `blobs/sha256/${digestHex(out.digest)}`;
    if (!(await sink.has(mname, out.bytes.length))) await sink.addBuffer(mname, out.bytes);
    changed ||= out.converted;
    manifests.push(out.converted ? { ...d, digest: out.digest, size: out.bytes.length } : d);
  }
  const bytes = changed ? Buffer.from(JSON.stringify({ ...index, manifests })) : Buffer.from(rec.json);
  const digest = changed ? sha256Of(bytes) : rec.digest;
  const name = `blobs/sha256/${digestHex(digest)}`;
  if (!(await sink.has(name, bytes.length))) await sink.addBuffer(name, bytes);
  const ref = parseReference(rec.name);
  const annotations: Record<string, string> = { [IMAGE_NAME_ANNOTATION]: ref.toString(), ...(ref.tag ? { [REF_NAME_ANNOTATION]: ref.tag } : {}) };
  return { mediaType: rec.mediaType, digest, size: bytes.length, annotations };
}

/** After load: record a named index whose every entry is now a stored image. */
export async function recordLoadedIndex(store: Store, names: string[], json: string, mediaType: string): Promise<boolean> {
  if (names.length === 0) return false;
  const stored = new Set((await store.listImages()).map((r) => r.manifestDigest));
  const index = JSON.parse(json) as { manifests: Descriptor[] };
  if (!index.manifests.every((d) => stored.has(d.digest) || d.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest')) return false;
  putIndexRecord(store.root, names, json, mediaType);
  return true;
}
