// The image state a `--from=X` names (COPY --from, RUN --mount from=): a stage
// of this build, awaited, or an image, pulled or found in the store.
//
// Its own module so that stage.ts and copy-step.ts can both use it without
// importing each other (issue 15).
import { TsbuildError } from '../../errors.js';
import { resolveSource } from '../index.js';
import type { BuildContext } from './build-context.js';
import type { ImageState } from './image-state.js';
import { useImage } from './images.js';
import { materializeForeign } from './lazy-layers.js';

/** The state `--from=X` names: a stage of this build or an image. */
export async function sourceState(ctx: BuildContext, from: string, line: number): Promise<ImageState> {
  const ref = resolveSource(from, ctx.allStages);
  if (ref?.kind === 'stage') {
    const built = ctx.stages.get(ref.index);
    if (!built) throw new TsbuildError('E_UNKNOWN_STAGE', `stage ${from} is not part of this build`, { location: { file: ctx.opts.displayFile, line } });
    const { state } = await built;
    // Its files are read now: cache hits of that stage that were left lazy are fetched.
    await materializeForeign(ctx, state, line);
    return state;
  }
  return (await useImage(ctx, ref?.reference ?? from, line)).state;
}
