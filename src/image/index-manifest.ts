// OCI image indexes tsbuild writes: one entry per platform image, in the
// order the platforms were asked for, no timestamps or annotations of ours,
// so the same images give the same index digest (reproducible as single
// images are). BuildKit adds attestation manifests by default; we add none.
import { MediaType, type Descriptor, type ImageIndex, type Platform } from './oci.js';
import { canonicalPlatform } from './platform.js';

export interface IndexEntry {
  digest: string;
  size: number;
  mediaType: string;
  platform: Platform;
}

export function makeIndex(entries: readonly IndexEntry[]): { index: ImageIndex; json: string } {
  const manifests: Descriptor[] = entries.map((e) => ({ mediaType: e.mediaType, digest: e.digest, size: e.size, platform: canonicalPlatform(e.platform) }));
  const index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests };
  return { index, json: JSON.stringify(index) };
}

/** `index` with `entry` added (an entry of the same platform is replaced, as buildah's manifest add does for a digest). */
export function withEntry(index: ImageIndex, entry: IndexEntry): { index: ImageIndex; json: string } {
  const kept = index.manifests.filter((d) => d.digest !== entry.digest);
  const next: ImageIndex = { ...index, manifests: [...kept, { mediaType: entry.mediaType, digest: entry.digest, size: entry.size, platform: canonicalPlatform(entry.platform) }] };
  return { index: next, json: JSON.stringify(next) };
}
