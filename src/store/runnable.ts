// Resolves an image reference to what the runtime needs (src/image/runnable.ts):
// the layer directories, unpacked on demand, bottom first, and the config.
import { TsbuildError } from '../errors.js';
import type { RunnableImage } from '../image/runnable.js';
import { tryParseReference } from '../reference/index.js';
import type { Store } from './types.js';

export async function resolveRunnable(store: Store, ref: string): Promise<RunnableImage> {
  return store.withLease(async () => {
    const rec = await store.resolveImage(ref);
    const { manifest, config } = await store.readImage(rec);
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== manifest.layers.length) {
      throw new TsbuildError('E_CORRUPT_IMAGE', `image ${ref}: manifest has ${manifest.layers.length} layers but its config lists ${diffIds.length} diff_ids`);
    }
    // In parallel: layers a cached build left lazy (lazy-blobs.ts) download and unpack at once.
    // All settle before a failure is reported, so none is left writing into tmp/.
    const settled = await Promise.allSettled(manifest.layers.map((layer, i) => store.ensureLayerUnpacked(diffIds[i] as string, layer.digest, layer.mediaType)));
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const layerDirs = settled.map((r) => (r as PromiseFulfilledResult<string>).value);
    const parsed = tryParseReference(ref);
    const name = parsed && rec.names.includes(parsed.toString()) ? parsed.toString() : (rec.names[0] ?? rec.id);
    return { id: rec.id, name, layerDirs, config: config.config ?? {} };
  });
}
