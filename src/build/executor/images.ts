// Images a build uses (FROM, COPY --from=image, RUN --mount from=image):
// found in the store by the name they were tagged with, else pulled
// (always pulled with --pull), then unpacked. Memoised per build.
import { TsbuildError } from '../../errors.js';
import type { Platform } from '../../image/oci.js';
import { findImageForPlatform, formatPlatform, hostPlatform, samePlatform } from '../../image/platform.js';
import type { BuildContext } from './build-context.js';
import { stateFromImage, type ImageState } from './image-state.js';

export function useImage(ctx: BuildContext, ref: string, line: number, platform?: Platform): Promise<{ state: ImageState; id: string }> {
  const memo = platform ? `${ref}\0${formatPlatform(platform)}` : ref;
  let p = ctx.images.get(memo);
  if (!p) {
    p = (async () => {
      try {
        // A local image needs no registry client: don't load it (a cached build stays lean).
        const local = ctx.opts.pull ? undefined : platform ? await findImageForPlatform(ctx.store, ref, platform) : await ctx.store.findImage(ref);
        if (local) return { state: await stateFromImage(ctx.store, local), id: local.id };
        const { ensureImage } = await import('../../registry/index.js');
        // For a platform, the local lookup above was the per-platform one; a foreign
        // platform's image stays untagged so the host's keeps the name (platform.ts).
        const perPlatform = platform ? { platform, policy: 'always' as const, tag: samePlatform(platform, hostPlatform()) } : {};
        const record = await ensureImage(ctx.store, ref, { policy: ctx.opts.pull ? 'always' : 'missing', log: ctx.opts.log, ...(ctx.opts.tlsVerify === false ? { tlsVerify: false } : {}), ...perPlatform });
        return { state: await stateFromImage(ctx.store, record), id: record.id };
      } catch (err) {
        if (err instanceof TsbuildError && !err.location) {
          throw new TsbuildError(err.code, err.message, { location: { file: ctx.opts.displayFile, line }, cause: err });
        }
        throw err;
      }
    })();
    ctx.images.set(memo, p);
  }
  return p;
}
