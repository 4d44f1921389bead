// What `images` and `inspect` show about a stored image, computed in one
// place so the table, `--format json` and `inspect` agree: names in docker's
// short spelling, creation time from the config, and size as the sum of the
// unpacked layers (or compressed blobs for layers not unpacked yet).
import { dirname } from 'node:path';
import { parseReference } from '../reference/index.js';
import { readLayerMeta, type ImageRecord, type Store } from '../store/index.js';
import type { ImageConfig, ImageManifest } from './oci.js';

export interface ImageDescription {
  id: string;
  digest: string;
  names: string[];
  /** `busybox:latest`-style names, as docker prints them. */
  tags: string[];
  repoDigests: string[];
  created: string;
  size: number;
  manifestMediaType: string;
  manifest: ImageManifest;
  config: ImageConfig;
}

/** A layer's unpacked (tar) size, or its blob size when it is not unpacked. */
export async function layerSize(store: Store, diffId: string, blobSize: number): Promise<number> {
  const dir = await store.layerDir(diffId);
  if (!dir) return blobSize;
  const size = readLayerMeta(dirname(dir))?.size;
  return typeof size === 'number' ? size : blobSize;
}

export async function describeImage(store: Store, rec: ImageRecord): Promise<ImageDescription> {
  const { manifest, config } = await store.readImage(rec);
  let size = 0;
  for (const [i, l] of manifest.layers.entries()) {
    const diffId = config.rootfs?.diff_ids?.[i];
    size += diffId ? await layerSize(store, diffId, l.size) : l.size;
  }
  return {
    id: rec.id,
    digest: rec.manifestDigest,
    names: rec.names,
    tags: rec.names.map((n) => parseReference(n).familiarName()),
    repoDigests: rec.repoDigests,
    created: config.created ?? rec.created,
    size,
    manifestMediaType: rec.manifestMediaType,
    manifest,
    config,
  };
}

/** `12.3MB`, as docker prints sizes (decimal units). */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 2 : 1).replace(/\.?0+$/, '')}${units[i]}`;
}

/** Rows as space-padded columns (the last column unpadded). */
export function formatTable(rows: string[][]): string {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 3))).join('')).join('\n') + '\n';
}
