// `build --platform A,B`: the target built once per platform, all at once
// (each platform a build of its own sharing the store and step cache, so a
// `FROM --platform=$BUILDPLATFORM` stage that is the same for every target
// runs once and the others take it from the cache under its key lock), then
// one OCI index of the platform images, kept in the store under the tags.
import { MediaType, type Platform } from '../../image/oci.js';
import { makeIndex } from '../../image/index-manifest.js';
import { buildPlatform, canonicalPlatform, formatPlatform } from '../../image/platform.js';
import { openStore } from '../../store/index.js';
import { putIndexRecord } from '../../store/index-records.js';
import type { BuildOptions } from './build-context.js';
import { build, type BuildResult } from './build.js';
import type { ProgressMode } from './progress.js';

export interface MultiPlatformResult {
  indexDigest: string;
  indexJson: string;
  images: Array<BuildResult & { platform: Platform }>;
}

export async function buildPlatforms(opts: BuildOptions, mode: ProgressMode, platforms: readonly Platform[]): Promise<MultiPlatformResult> {
  const host = buildPlatform();
  // Two live displays would draw over each other: plain lines, each with its stage.
  const each = mode === 'tty' ? 'plain' : mode;
  const images = await Promise.all(platforms.map(async (p) => {
    const target = canonicalPlatform(p);
    const r = await build({ ...opts, tags: [], platform: { target, build: host }, stagePrefix: formatPlatform(target) }, each);
    return { ...r, platform: target };
  }));
  const { json } = makeIndex(images.map((r) => ({ digest: r.manifestDigest, size: r.manifestSize, mediaType: r.manifestMediaType, platform: r.platform })));
  const store = await openStore(opts.root);
  let indexDigest: string;
  try {
    indexDigest = (await store.putBlobBytes(Buffer.from(json))).digest;
    // A tag names the index now, not an image that had it.
    for (const t of opts.tags) await store.untagImage(t).catch(() => undefined);
  } finally {
    await store.close();
  }
  putIndexRecord(opts.root, opts.tags, json, MediaType.ociIndex);
  return { indexDigest, indexJson: json, images };
}
