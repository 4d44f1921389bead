// Images a build uses (FROM, COPY --from=image, RUN --mount from=image):
// found in the store by the name they were tagged with, else pulled
// (always pulled with --pull), then unpacked. Memoised per build.
import { TsbuildError } from '../../errors.js';
import type { BuildContext } from './build-context.js';
import { stateFromImage, type ImageState } from './image-state.js';

export function useImage(ctx: BuildContext, ref: string, line: number): Promise<{ state: ImageState; id: string }> {
  let p = ctx.images.get(ref);
  if (!p) {
    p = (async () => {
      try {
        // A local image needs no registry client: don't load it (a cached build stays lean).
        const local = ctx.opts.pull ? undefined : await ctx.store.findImage(ref);
        if (local) return { state: await stateFromImage(ctx.store, local), id: local.id };
        const { ensureImage } = await import('../../registry/index.js');
        const progress = ctx.progress.transfer('pull', ref);
        const record = await ensureImage(ctx.store, ref, { policy: ctx.opts.pull ? 'always' : 'missing', log: ctx.opts.log, progress, ...(ctx.opts.tlsVerify === false ? { tlsVerify: false } : {}) });
        return { state: await stateFromImage(ctx.store, record), id: record.id };
      } catch (err) {
        if (err instanceof TsbuildError && !err.location) {
          throw new TsbuildError(err.code, err.message, { location: { file: ctx.opts.displayFile, line }, cause: err });
        }
        throw err;
      }
    })();
    ctx.images.set(ref, p);
  }
  return p;
}
