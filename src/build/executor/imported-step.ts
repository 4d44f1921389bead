// The two ways a build step meets the shared cache: a step whose key a
// --cache-from ref holds is rebuilt from that entry (its layer fetched and
// verified, its history line taken, everything else recomputed here from
// the Containerfile; record.ts says why that is the trust boundary), and
// every layer step the build used is noted for --cache-to.
import type { StageInstruction } from '../index.js';
import type { ImportedEntry } from '../cache/import.js';
import type { BuildContext } from './build-context.js';
import { applyConfigInstruction } from '../instructions/config-steps.js';
import { withHistory, withLayer, type ImageState, type LayerRef } from './image-state.js';
import { markLazy } from './lazy-layers.js';

/** The WORKDIR a workdir step leaves in the config (as execute computes it). */
export function workdirAfter(ins: StageInstruction, state: ImageState): string {
  const config = { ...(state.config.config ?? {}) };
  applyConfigInstruction(ins, config, new Map(), { cmdFromBase: false });
  return config.WorkingDir ?? '/';
}

/**
 * The state after `ins` from an imported entry, at once, its layer lazy
 * (lazy-layers.ts): known by digest and diffID, fetched only when a step
 * that runs, another stage or the image writer needs its files. Once it is
 * unpacked, `onReady` keeps the step in the local cache.
 */
export function fromImported(ctx: BuildContext, state: ImageState, ins: StageInstruction, entry: ImportedEntry, onReady: (after: ImageState) => void = () => {}): ImageState {
  let next: ImageState;
  if (entry.layer) {
    next = withLayer(state, entry.layer, '', entry.history);
    const ref = next.layers.at(-1) as LayerRef;
    const after = (): ImageState => next;
    markLazy(ctx, ref, entry, () => onReady(after()));
  } else {
    next = withHistory(state, { ...entry.history, empty_layer: true });
  }
  if (ins.kind === 'workdir') {
    const dir = workdirAfter(ins, state);
    next = { ...next, config: { ...next.config, config: { ...(next.config.config ?? {}), WorkingDir: dir } } };
  }
  return next;
}

/** Notes the layer step that left `state` (for --cache-to). */
export function noteUsed(ctx: BuildContext, stage: number, key: string, state: ImageState, retimeKey?: string, chainKey?: string): void {
  if (!ctx.opts.cacheTo?.length) return;
  const h = state.config.history?.at(-1) ?? {};
  const history = { ...(h.created !== undefined ? { created: h.created } : {}), ...(h.created_by !== undefined ? { created_by: h.created_by } : {}), ...(h.comment !== undefined ? { comment: h.comment } : {}) };
  const top = state.layers.at(-1);
  const layer = h.empty_layer || !top ? undefined : { digest: top.digest, diffId: top.diffId, size: top.size, mediaType: top.mediaType };
  const retime = retimeKey !== undefined && ctx.opts.epoch ? { retime: { key: retimeKey, epoch: ctx.opts.epoch.seconds } } : {};
  ctx.usedSteps.push({ stage, key, history, ...(layer ? { layer } : {}), ...retime });
  // A COPY --from=STAGE is also kept under its chain key, naming its content key (stage.ts).
  if (chainKey !== undefined) ctx.usedSteps.push({ stage, key: chainKey, contentKey: key, history, ...(layer ? { layer } : {}) });
}
