// Garbage collection: what the store's content is used by, computed fresh
// from the records each time (mark and sweep) instead of stored counters, so
// a crash between two writes can never leave a count that frees a layer
// still in use. Roots are the image records and the runtime's containers
// (ROOT/containers/<id>/state.json: `imageId` and `layerDirs`). Callers hold
// the "gc" lock exclusively, so no writer is between "blob written" and
// "record names it" (writers hold it shared, see Store.withLease).
import { readdir, readFile, rename, rm } from 'node:fs/promises';
import { readLayerMeta } from './layers.js';
import { basename, dirname, join } from 'node:path';
import type { ImageConfig, ImageManifest } from '../image/oci.js';
import { tempName } from './blobs.js';
import type { BlobStore } from './blobs.js';
import { digestHex, isDigest } from './digest.js';
import type { ImageRecord } from './types.js';

export interface ContainerRef {
  id: string;
  imageId: string | undefined;
  layerDirs: string[];
}

export interface Usage {
  /** Blob digests something references. */
  blobs: Set<string>;
  /** diffID hex → how many images and containers use that unpacked layer. */
  layers: Map<string, number>;
  containers: ContainerRef[];
}

/** The containers the runtime knows, read from their state files (unreadable ones are skipped). */
export async function listContainers(root: string): Promise<ContainerRef[]> {
  const dir = join(root, 'containers');
  let ids: string[];
  try {
    ids = await readdir(dir);
  } catch {
    return [];
  }
  const out: ContainerRef[] = [];
  for (const id of ids) {
    try {
      const st = JSON.parse(await readFile(join(dir, id, 'state.json'), 'utf8')) as { imageId?: unknown; layerDirs?: unknown };
      out.push({
        id,
        imageId: typeof st.imageId === 'string' ? st.imageId : undefined,
        layerDirs: Array.isArray(st.layerDirs) ? st.layerDirs.filter((d): d is string => typeof d === 'string') : [],
      });
    } catch {
      // A container being created has no state yet; its creator holds a lease.
      out.push({ id, imageId: undefined, layerDirs: [] });
    }
  }
  return out;
}

/** The diffID hex of a layer dir path `ROOT/layers/<hex>/diff`, if it is one of ours. */
export function layerHexOfDir(root: string, dir: string): string | undefined {
  const hexDir = dirname(dir);
  if (dirname(hexDir) !== join(root, 'layers') || basename(dir) !== 'diff') return undefined;
  const hex = basename(hexDir);
  return /^[a-f0-9]{64}$/.test(hex) ? hex : undefined;
}

async function readJsonBlob<T>(blobs: BlobStore, digest: string): Promise<T | undefined> {
  try {
    return JSON.parse((await blobs.read(digest)).toString('utf8')) as T;
  } catch {
    return undefined; // missing or corrupt: nothing further to mark through it
  }
}

export async function computeUsage(root: string, blobs: BlobStore, images: readonly ImageRecord[]): Promise<Usage> {
  const usage: Usage = { blobs: new Set(), layers: new Map(), containers: await listContainers(root) };
  const useLayer = (diffId: string): void => {
    if (!isDigest(diffId)) return;
    const hex = digestHex(diffId);
    usage.layers.set(hex, (usage.layers.get(hex) ?? 0) + 1);
  };
  const markConfig = async (configDigest: string): Promise<void> => {
    usage.blobs.add(configDigest);
    const config = await readJsonBlob<ImageConfig>(blobs, configDigest);
    for (const d of config?.rootfs?.diff_ids ?? []) useLayer(d);
  };
  for (const r of images) {
    usage.blobs.add(r.manifestDigest);
    const manifest = await readJsonBlob<ImageManifest>(blobs, r.manifestDigest);
    for (const l of manifest?.layers ?? []) usage.blobs.add(l.digest);
    await markConfig(r.configDigest);
  }
  for (const c of usage.containers) {
    if (c.imageId && isDigest(c.imageId) && !images.some((r) => r.id === c.imageId)) await markConfig(c.imageId);
    for (const d of c.layerDirs) {
      const hex = layerHexOfDir(root, d);
      if (hex) usage.layers.set(hex, (usage.layers.get(hex) ?? 0) + 1);
    }
  }
  return usage;
}

/** The blobs and layers one image record references (what rmi may free). */
export async function recordContent(blobs: BlobStore, r: ImageRecord): Promise<{ blobs: string[]; layers: string[] }> {
  const manifest = await readJsonBlob<ImageManifest>(blobs, r.manifestDigest);
  const config = await readJsonBlob<ImageConfig>(blobs, r.configDigest);
  return {
    blobs: [r.manifestDigest, r.configDigest, ...(manifest?.layers ?? []).map((l) => l.digest)],
    layers: (config?.rootfs?.diff_ids ?? []).filter(isDigest).map(digestHex),
  };
}

export interface SweepResult {
  blobsRemoved: number;
  layersRemoved: number;
  bytesFreed: number;
}

/**
 * Delete the candidate blobs and layers (all, when `candidates` is
 * undefined) that `usage` does not mark. Layers go by rename into tmp/ first,
 * so a crash mid-delete leaves tmp/ garbage, never a half-present layer.
 */
export async function sweep(root: string, tmpDir: string, blobs: BlobStore, usage: Usage, candidates?: { blobs: string[]; layers: string[] }): Promise<SweepResult> {
  const res: SweepResult = { blobsRemoved: 0, layersRemoved: 0, bytesFreed: 0 };
  const blobList = candidates?.blobs ?? (await readdir(blobs.dir).catch(() => [] as string[])).filter((h) => /^[a-f0-9]{64}$/.test(h)).map((h) => `sha256:${h}`);
  for (const digest of new Set(blobList)) {
    if (usage.blobs.has(digest)) continue;
    const st = await blobs.stat(digest, true); // an unsynced blob a killed build left is garbage too
    if (!st) continue;
    await blobs.delete(digest);
    res.blobsRemoved++;
    res.bytesFreed += st.size;
  }
  // Lazy layer records (lazy-blobs.ts) of blobs no image names go with them.
  const lazyDir = join(root, 'lazy');
  for (const f of await readdir(lazyDir).catch(() => [] as string[])) {
    const m = /^([a-f0-9]{64})\.json$/.exec(f);
    if (m && !usage.blobs.has(`sha256:${m[1]}`) && (!candidates || candidates.blobs.includes(`sha256:${m[1]}`))) await rm(join(lazyDir, f), { force: true });
  }
  const layersDir = join(root, 'layers');
  const layerList = candidates?.layers ?? (await readdir(layersDir).catch(() => [] as string[])).filter((h) => /^[a-f0-9]{64}$/.test(h));
  for (const hex of new Set(layerList)) {
    if (usage.layers.has(hex)) continue;
    const doomed = join(tmpDir, tempName('gc'));
    try {
      await rename(join(layersDir, hex), doomed);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    res.bytesFreed += await layerSize(doomed);
    await rm(doomed, { recursive: true, force: true });
    res.layersRemoved++;
  }
  return res;
}

async function layerSize(dir: string): Promise<number> {
  const size = readLayerMeta(dir)?.size;
  return typeof size === 'number' ? size : 0;
}
