// The content-addressed image store: tsbuild's memory.
//
// Layout under the store root (`--root`, agreed with src/run and src/registry):
//   blobs/sha256/<hex>        content (manifests, configs, compressed layers), named by digest
//   layers/<diffid-hex>/diff  unpacked layers, used directly as overlay lowerdirs
//   images/index.json         image records: manifest digest, config digest, names
//   tmp/                      temp files and half-unpacked layers (same filesystem: renames are atomic)
//   locks/                    flock files that serialise writers across tsbuild processes
//   containers/<id>/          owned by the runtime; its state.json `imageId` pins an image
//
// Invariant: a file at blobs/sha256/<hex> always holds bytes whose sha256 is
// <hex>, and layers/<hex>/ exists only once fully unpacked. Writers build in
// tmp/ and rename into place; a crash leaves only tmp/ garbage, which the next
// openStore() removes. Readers verify digest and size again while streaming,
// so even a disk that rots cannot hand back a wrong blob unnoticed.
//
// Crash rule (what must be durable before it is visible, and what a crash
// may take):
//   1. A name is durable and never names what is not: images/index.json is
//      written (temp, fsync, rename, fsync of the dir) only after every blob
//      it names is on disk: each fsynced, or covered by a syncfs that
//      returned before the index write (putImage flushes a pending batch
//      first, so this holds for every caller).
//   2. A build's intermediate results are cache and may be lost, never
//      wrong. A build defers durability (deferDurability): its step blobs
//      and layers are named without fsyncs, each marked unproven (a blob's
//      sticky bit, a layer's pending.json), and one syncfs when the image is
//      named (or the store closed, on failure too) proves them all.
//   3. Unproven content is trusted only within the boot that wrote it:
//      until the kernel crashes, the page cache holds it whole, even if its
//      writer was killed (ROOT/pending/<boot id>/<hex> notes such blobs; a
//      layer's pending.json names its boot). After a crash an unproven blob
//      counts as absent (a pull or put writes it again; prune removes it),
//      and so does an unproven layer (remade from its blob or by its step,
//      replacing the dir). Whoever names unproven content syncs it first
//      (rule 1), so another build may reuse a killed build's steps.
//   4. Step-cache, retime and usage records are never synced: a torn or lost
//      one is a miss, and one naming an absent blob or layer is a miss too.
//   5. tmp/ entries of dead writers are garbage (clean()), and so are the
//      pending notes of earlier boots.
// So kill -9 of a build loses nothing; a kernel crash loses at most the
// steps of the builds that had not yet named their image.
//
// Concurrency: every mutation holds the store's shared "gc" lock; prune/rmi
// take it exclusively, so they never free content that a writer is about to
// reference. A multi-step writer (pull: blobs, then manifest, then the image
// record) wraps its steps in `withLease()` so nothing is collected in between.
import type { RunnableImage } from '../image/runnable.js';
import { StoreImpl } from './store.js';
import { resolveRunnable } from './runnable.js';
import type { Store } from './types.js';

export type { DerivedBlob, StreamedBlob } from './blob-on-demand.js';
export { DEFAULT_GZIP, type GzipChoice } from './codec/layer-gzip.js';

export { readLayerMeta } from './layers.js';

export type { ImageConfig, ImageManifest, Descriptor } from '../image/oci.js';
export type * from './types.js';

/**
 * Open (creating if needed) the store at `root`, and clean garbage that a
 * crashed tsbuild left in tmp/ (only entries no live process still holds).
 */
export async function openStore(root: string): Promise<Store> {
  return StoreImpl.open(root);
}

/**
 * What the runtime needs to start a container from `ref`: the layers
 * unpacked (bottom first) and the OCI container config. Throws
 * E_IMAGE_NOT_FOUND when the store has no such image.
 */
export async function getRunnableImage(store: Store, ref: string): Promise<RunnableImage> {
  return resolveRunnable(store, ref);
}

/** Open the store at `root`, run `fn`, and close it whatever happens (for CLI commands). */
export async function usingStore<T>(root: string, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(root);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}
