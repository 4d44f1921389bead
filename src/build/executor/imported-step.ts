// The two ways a build step meets the shared cache: a step whose key a
// --cache-from ref holds is rebuilt from that entry (its layer fetched and
// verified, its history line taken, everything else recomputed here from
// the Containerfile; record.ts says why that is the trust boundary), and
// every layer step the build used is noted for --cache-to.
import { TsbuildError } from '../../errors.js';
import type { StageInstruction } from '../index.js';
import type { ImportedEntry } from '../cache/import.js';
import type { BuildContext } from './build-context.js';
import { applyConfigInstruction } from './config-steps.js';
import { withHistory, withLayer, type ImageState, type LayerRef } from './image-state.js';

/** The WORKDIR a workdir step leaves in the config (as execute computes it). */
export function workdirAfter(ins: StageInstruction, state: ImageState): string {
  const config = { ...(state.config.config ?? {}) };
  applyConfigInstruction(ins, config, new Map(), { cmdFromBase: false });
  return config.WorkingDir ?? '/';
}

/** An imported layer that failed to arrive or to verify: the stage is built again without that entry. */
export class ImportFailed extends Error {
  constructor(readonly entry: ImportedEntry, readonly why: string) {
    super(why);
  }
}

/**
 * The state after `ins` from an imported entry, at once; its layer arrives
 * in the background (`ready`), so the next steps' keys are computed and
 * their layers fetched while this one downloads. The layer's dir is filled
 * in when it is unpacked: whoever reads dirs (a step that runs, another
 * stage, the image) waits for `ready` first. `ready` rejects with
 * ImportFailed when the layer can't be fetched or fails verification.
 */
export function fromImported(ctx: BuildContext, state: ImageState, ins: StageInstruction, entry: ImportedEntry): { state: ImageState; ready: Promise<void> } {
  let next: ImageState;
  let ready: Promise<void> = Promise.resolve();
  if (entry.layer) {
    const layer = entry.layer;
    next = withLayer(state, layer, '', entry.history);
    const ref = next.layers.at(-1) as LayerRef;
    ready = ctx.imports.fetchLayer(ctx.store, entry, ctx.progress.transfer('pull', entry.from.name)).then((dir) => { ref.dir = dir; }, (err: unknown) => {
      const why = err instanceof TsbuildError ? err.message : (err as Error).message;
      throw new ImportFailed(entry, `cache ${entry.from.name}: layer ${layer.digest} not used: ${why.split('\n')[0]}`);
    });
  } else {
    next = withHistory(state, { ...entry.history, empty_layer: true });
  }
  if (ins.kind === 'workdir') {
    const dir = workdirAfter(ins, state);
    next = { ...next, config: { ...next.config, config: { ...(next.config.config ?? {}), WorkingDir: dir } } };
  }
  return { state: next, ready };
}

/** Notes the layer step that left `state` (for --cache-to). */
export function noteUsed(ctx: BuildContext, stage: number, key: string, state: ImageState, retimeKey?: string): void {
  if (!ctx.opts.cacheTo?.length) return;
  const h = state.config.history?.at(-1) ?? {};
  const history = { ...(h.created !== undefined ? { created: h.created } : {}), ...(h.created_by !== undefined ? { created_by: h.created_by } : {}), ...(h.comment !== undefined ? { comment: h.comment } : {}) };
  const top = state.layers.at(-1);
  const layer = h.empty_layer || !top ? undefined : { digest: top.digest, diffId: top.diffId, size: top.size, mediaType: top.mediaType };
  const retime = retimeKey !== undefined && ctx.opts.epoch ? { retime: { key: retimeKey, epoch: ctx.opts.epoch.seconds } } : {};
  ctx.usedSteps.push({ stage, key, history, ...(layer ? { layer } : {}), ...retime });
}
