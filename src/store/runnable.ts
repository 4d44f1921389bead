// Resolves an image reference to what the runtime needs (src/image/runnable.ts):
// the layer directories, unpacked on demand, bottom first, and the config.
import { TsbuildError } from '../errors.js';
import type { RunnableImage } from '../image/runnable.js';
import { tryParseReference } from '../reference/index.js';
import type { Store } from './index.js';

export async function resolveRunnable(store: Store, ref: string): Promise<RunnableImage> {
  return store.withLease(async () => {
    const rec = await store.resolveImage(ref);
    const { manifest, config } = await store.readImage(rec);
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== manifest.layers.length) {
      throw new TsbuildError('E_CORRUPT_IMAGE', `image ${ref}: manifest has ${manifest.layers.length} layers but its config lists ${diffIds.length} diff_ids`);
    }
    const layerDirs: string[] = [];
    for (const [i, layer] of manifest.layers.entries()) {
      layerDirs.push(await store.ensureLayerUnpacked(diffIds[i] as string, layer.digest, layer.mediaType));
    }
    const parsed = tryParseReference(ref);
    const name = parsed && rec.names.includes(parsed.toString()) ? parsed.toString() : (rec.names[0] ?? rec.id);
    return { id: rec.id, name, layerDirs, config: config.config ?? {} };
  });
}
