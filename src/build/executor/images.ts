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
import type { Platform } from '../../image/oci.js';
import { findImageForPlatform, formatPlatform, hostPlatform, samePlatform } from '../../image/platform.js';
import { stagePlatform } from '../platforms.js';
import type { BuildContext } from './build-context.js';
import { stateFromImage, type ImageState } from './image-state.js';

function located(ctx: BuildContext, err: unknown, line: number): unknown {
  if (err instanceof TsbuildError && !err.location) {
    return new TsbuildError(err.code, err.message, { location: { file: ctx.opts.displayFile, line }, exitCode: err.exitCode, cause: err });
  }
  return err;
}

/** One memo entry per image and platform: a multi-platform build uses one name for several images. */
function memoKey(ref: string, platform: Platform | undefined): string {
  return platform ? `${ref}\0${formatPlatform(platform)}` : ref;
}

/** What `ref` names (for `platform`): the stored image, or the registry's manifest. Memoised per build. */
function resolve(ctx: BuildContext, ref: string, platform: Platform | undefined): Promise<ResolvedImage> {
  const memo = memoKey(ref, platform);
  let p = ctx.resolved.get(memo);
  if (!p) {
    p = (async (): Promise<ResolvedImage> => {
      // A local image needs no registry client: don't load it (a cached build stays lean).
      const local = ctx.opts.pull ? undefined : platform ? await findImageForPlatform(ctx.store, ref, platform) : await ctx.store.findImage(ref);
      if (local) return { kind: 'local', record: local };
      const { resolveImage } = await import('../../registry/index.js');
      return resolveImage(ctx.store, ref, registryOptions(ctx, platform));
    })();
    ctx.resolved.set(memo, p);
  }
  return p;
}

function registryOptions(ctx: BuildContext, platform: Platform | undefined) {
  // For a platform, the local lookup in resolve() was the per-platform one; a foreign
  // platform's image stays untagged so the host's keeps the name (platform.ts).
  const perPlatform = platform ? { platform, policy: 'always' as const, tag: samePlatform(platform, hostPlatform()) } : {};
  return { policy: ctx.opts.pull ? 'always' as const : 'missing' as const, log: ctx.opts.log, ...(ctx.opts.tlsVerify === false ? { tlsVerify: false } : {}), ...perPlatform };
}

/**
 * Resolves every image the planned stages name, in parallel (a FROM image
 * for its stage's platform); throws the first failure in file order,
 * located at the line that names the image.
 */
export async function resolvePlannedImages(ctx: BuildContext): Promise<void> {
  const uses = ctx.plan.stages.flatMap((ps) => ps.images.map((u) => ({
    ...u,
    platform: u.line === ps.stage.from.line ? stagePlatform(ps.platform, ctx.opts.platform, ctx.opts.displayFile, u.line) : undefined,
  })));
  const settled = await Promise.allSettled(uses.map((u) => resolve(ctx, u.reference, u.platform)));
  settled.forEach((s, i) => {
    if (s.status === 'rejected') throw located(ctx, s.reason, (uses[i] as { line: number }).line);
  });
}

export function useImage(ctx: BuildContext, ref: string, line: number, platform?: Platform): Promise<{ state: ImageState; id: string }> {
  const memo = memoKey(ref, platform);
  let p = ctx.images.get(memo);
  if (!p) {
    p = (async () => {
      try {
        const resolved = await resolve(ctx, ref, platform);
        if (resolved.kind === 'local') return { state: await stateFromImage(ctx.store, resolved.record), id: resolved.record.id };
        const { ensureImage } = await import('../../registry/index.js');
        const record = await ensureImage(ctx.store, ref, { ...registryOptions(ctx, platform), resolved, progress: ctx.progress.transfer('pull', ref) });
        return { state: await stateFromImage(ctx.store, record), id: record.id };
      } catch (err) {
        throw located(ctx, err, line);
      }
    })();
    ctx.images.set(memo, p);
  }
  return p;
}
