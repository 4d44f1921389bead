// Turning a layer directory in overlay form (a container's upperdir, a COPY
// step's output) into an OCI layer: one streaming pass of scan → tar
// (codec/layer-tar.ts: deterministic, overlay whiteouts become OCI
// whiteouts) → sha256 (the diffID). Only the diff is read: the upper dir is
// exactly what the step changed.
//
// A build step's layer (`adopt`) is not compressed: the dir becomes the
// unpacked layer and the tar is made again from it when a push, a save or a
// cache export asks for a blob (store/blob-on-demand.ts), as BuildKit defers
// compression to export. The local manifest names it by its diffID with the
// uncompressed media type. Without `adopt` (commit of a running container,
// whose upperdir stays in use) the gzip blob is written at once, as before.
// With a SOURCE_DATE_EPOCH, every mtime above it is clamped to it.
import { lutimesSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Store } from '../store/index.js';
import { hashLayerTar, layerTar, scanLayerEntries, type ExcludeSet, type ScanEntry } from '../store/codec/layer-tar.js';
import { DEFAULT_GZIP, ParallelGzip } from '../store/codec/layer-gzip.js';
import { MediaType } from './oci.js';

export type { ExcludeSet } from '../store/codec/layer-tar.js';

export interface LayerBlob {
  diffId: string;
  /** The blob the manifest names: the diffID itself for a built (lazy) layer. */
  digest: string;
  size: number;
  mediaType: string;
  /** Bytes of the uncompressed tar. */
  uncompressedSize: number;
}

export interface WriteLayerOptions {
  exclude?: ExcludeSet;
  /** Move the dir into the store as the layer's unpacked form (it is consumed). */
  adopt?: boolean;
  /** SOURCE_DATE_EPOCH (seconds): no mtime in the layer is later than this. */
  clampMtime?: number;
}

/**
 * Makes the layer of `dir`. Returns undefined for an empty diff (no layer,
 * as buildah does). With `adopt`, the dir becomes the layer's lowerdir in
 * the store and nothing else is written (excluded paths are removed from it
 * first so the dir and the tar hold the same files); the result names the
 * layer by its diffID, uncompressed. Without, a gzip blob is written.
 */
export async function writeLayer(store: Store, dir: string, opts: WriteLayerOptions = {}): Promise<LayerBlob | undefined> {
  const { all, entries } = scanLayerEntries(dir, opts.exclude);
  if (entries.length === 0) return undefined;
  const clamp = opts.clampMtime;
  if (!opts.adopt) {
    const { stream, diff } = layerTar(dir, entries, clamp);
    const gzip = new ParallelGzip(DEFAULT_GZIP);
    const [blob] = await Promise.all([store.putBlob(gzip), pipeline(stream, gzip)]);
    return { diffId: diff.digest(), digest: blob.digest, size: blob.size, mediaType: MediaType.ociLayerGzip, uncompressedSize: diff.size };
  }
  // Hash only: nothing is written but the directory itself.
  const tarred = await hashLayerTar(dir, entries, clamp);
  const diffId = tarred.digest;
  const layer: LayerBlob = { diffId, digest: diffId, size: tarred.size, mediaType: MediaType.ociLayer, uncompressedSize: tarred.size };
  if (opts.exclude && opts.exclude.size > 0) removeExcluded(dir, all, opts.exclude, clamp);
  // The unpacked layer shows what the tar holds, so later steps and `run`
  // see the clamped times a puller sees (a child's utime leaves its parent's
  // mtime alone), and the tar made again from it later is this one.
  if (clamp !== undefined) for (const e of entries) if (e.mtimeSec > clamp) lutimesSync(join(dir, e.path), clamp, clamp);
  await store.adoptLayerDir(diffId, diffId, layer.mediaType, dir, tarred.size, { built: true });
  return layer;
}

/**
 * Remove the excluded paths from `dir`, then give their parent directories
 * back the mtime the tar recorded: removing an entry touches its parent, and
 * the tar made again from the dir must be the one hashed here.
 */
function removeExcluded(dir: string, all: ScanEntry[], exclude: ExcludeSet, clamp: number | undefined): void {
  const byPath = new Map(all.map((e) => [e.path, e]));
  const parents = new Set<string>();
  for (const e of all) {
    if (!exclude.has(e.path)) continue;
    rmSync(join(dir, e.path), { recursive: true, force: true });
    const parent = dirname(e.path);
    if (parent !== '.' && !exclude.has(parent)) parents.add(parent);
  }
  for (const p of parents) {
    const e = byPath.get(p);
    if (!e) continue;
    const sec = clamp !== undefined && e.mtimeSec > clamp ? clamp : e.mtimeSec;
    lutimesSync(join(dir, p), sec, sec);
  }
}
