// Image half of `tsbuild inspect`: the JSON for a stored image. cmd-inspect
// tries containers first and then calls inspectImage.
import type { CliContext } from './context.js';
import { describeImage } from '../image/describe.js';
import { usingStore } from '../store/index.js';
import { findIndexRecord, parseIndexRecord } from '../store/index-records.js';

/** `{id, digest, tags, names, repoDigests, created, size, manifest, config, ...}` for `ref`; throws E_IMAGE_NOT_FOUND. */
export async function inspectImage(ctx: CliContext, ref: string): Promise<object> {
  const index = findIndexRecord(ctx.root, ref);
  if (index) {
    // A multi-platform image: its index, and which stored image each entry is.
    return { type: 'index', digest: index.digest, names: [index.name], created: index.created, manifestMediaType: index.mediaType, manifest: parseIndexRecord(index) };
  }
  return usingStore(ctx.root, async (store) => {
    const d = await describeImage(store, await store.resolveImage(ref));
    return {
      type: 'image',
      id: d.id,
      digest: d.digest,
      tags: d.tags,
      names: d.names,
      repoDigests: d.repoDigests,
      created: d.created,
      size: d.size,
      architecture: d.config.architecture,
      os: d.config.os,
      manifestMediaType: d.manifestMediaType,
      manifest: d.manifest,
      config: d.config,
    };
  });
}
