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
import { withHistory, withLayer, type ImageState } from './image-state.js';

/** The WORKDIR a workdir step leaves in the config (as execute computes it). */
export function workdirAfter(ins: StageInstruction, state: ImageState): string {
  const config = { ...(state.config.config ?? {}) };
  applyConfigInstruction(ins, config, new Map(), { cmdFromBase: false });
  return config.WorkingDir ?? '/';
}

/**
 * The state after `ins` from an imported entry, or undefined (one warning)
 * when its layer can't be fetched or fails verification: then the step runs.
 */
export async function fromImported(ctx: BuildContext, state: ImageState, ins: StageInstruction, entry: ImportedEntry): Promise<ImageState | undefined> {
  let next: ImageState;
  if (entry.layer) {
    const layer = entry.layer;
    let dir: string;
    try {
      dir = await entry.from.fetchLayer(ctx.store, layer, ctx.progress.transfer('pull', entry.from.name));
    } catch (err) {
      const why = err instanceof TsbuildError ? err.message : (err as Error).message;
      ctx.opts.log.warn(`cache ${entry.from.name}: layer ${layer.digest} not used: ${why.split('\n')[0]}`);
      return undefined;
    }
    next = withLayer(state, layer, dir, entry.history);
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
export function noteUsed(ctx: BuildContext, stage: number, key: string, state: ImageState): void {
  if (!ctx.opts.cacheTo?.length) return;
  const h = state.config.history?.at(-1) ?? {};
  const history = { ...(h.created !== undefined ? { created: h.created } : {}), ...(h.created_by !== undefined ? { created_by: h.created_by } : {}), ...(h.comment !== undefined ? { comment: h.comment } : {}) };
  const top = state.layers.at(-1);
  const layer = h.empty_layer || !top ? undefined : { digest: top.digest, diffId: top.diffId, size: top.size, mediaType: top.mediaType };
  ctx.usedSteps.push({ stage, key, history, ...(layer ? { layer } : {}) });
}
