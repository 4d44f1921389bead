// Images a build uses (FROM, COPY --from=image, RUN --mount from=image):
// found in the store by the name they were tagged with, else pulled
// (always pulled with --pull), then unpacked. Memoised per build.
//
// Every image the plan names is resolved (found in the store, or its
// manifest fetched) before any stage runs, so that a typo in the last
// stage's FROM or an unreachable registry fails the build at once rather
// than after the earlier stages have run. BuildKit does the same: its
// frontend resolves every stage's image config before it solves anything.
// The layers are pulled later, when a stage needs them.
import { TsbuildError } from '../../errors.js';
import type { ResolvedImage } from '../../registry/index.js';
import type { BuildContext } from './build-context.js';
import { stateFromImage, type ImageState } from './image-state.js';

function located(ctx: BuildContext, err: unknown, line: number): unknown {
  if (err instanceof TsbuildError && !err.location) {
    return new TsbuildError(err.code, err.message, { location: { file: ctx.opts.displayFile, line }, exitCode: err.exitCode, cause: err });
  }
  return err;
}

/** What `ref` names: the stored image, or the registry's manifest. Memoised per build. */
function resolve(ctx: BuildContext, ref: string): Promise<ResolvedImage> {
  let p = ctx.resolved.get(ref);
  if (!p) {
    p = (async (): Promise<ResolvedImage> => {
      // A local image needs no registry client: don't load it (a cached build stays lean).
      const local = ctx.opts.pull ? undefined : await ctx.store.findImage(ref);
      if (local) return { kind: 'local', record: local };
      const { resolveImage } = await import('../../registry/index.js');
      return resolveImage(ctx.store, ref, registryOptions(ctx));
    })();
    ctx.resolved.set(ref, p);
  }
  return p;
}

function registryOptions(ctx: BuildContext) {
  return { policy: ctx.opts.pull ? 'always' as const : 'missing' as const, log: ctx.opts.log, ...(ctx.opts.tlsVerify === false ? { tlsVerify: false } : {}) };
}

/**
 * Resolves every image the planned stages name, in parallel; throws the
 * first failure in file order, located at the line that names the image.
 */
export async function resolvePlannedImages(ctx: BuildContext): Promise<void> {
  const uses = ctx.plan.stages.flatMap((ps) => ps.images);
  const settled = await Promise.allSettled(uses.map((u) => resolve(ctx, u.reference)));
  settled.forEach((s, i) => {
    if (s.status === 'rejected') throw located(ctx, s.reason, (uses[i] as { line: number }).line);
  });
}

export function useImage(ctx: BuildContext, ref: string, line: number): Promise<{ state: ImageState; id: string }> {
  let p = ctx.images.get(ref);
  if (!p) {
    p = (async () => {
      try {
        const resolved = await resolve(ctx, ref);
        if (resolved.kind === 'local') return { state: await stateFromImage(ctx.store, resolved.record), id: resolved.record.id };
        const { ensureImage } = await import('../../registry/index.js');
        const record = await ensureImage(ctx.store, ref, { ...registryOptions(ctx), resolved });
        return { state: await stateFromImage(ctx.store, record), id: record.id };
      } catch (err) {
        throw located(ctx, err, line);
      }
    })();
    ctx.images.set(ref, p);
  }
  return p;
}
