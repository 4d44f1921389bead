// COPY and ADD in the executor: where the sources come from (the context,
// another stage, an image) and where the result goes (a fresh dir under the
// store's tmp, which becomes the layer). The file semantics live in
// src/build/copy.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { applyCopy, copySourceDigests, type CopySource, type CopyStep } from '../copy/index.js';
import { layerDigestMemo, readLayerDigests, writeLayerDigests } from '../copy/layer-digests.js';
import type { AddInstruction, CopyInstruction } from '../index.js';
import type { BuildContext } from './build-context.js';
import { layerDirs, type ImageState } from './image-state.js';
import { sourceState } from './source-state.js';
import { makeTempDir } from '../../store/blobs.js';

async function stepFor(ctx: BuildContext, state: ImageState, ins: CopyInstruction | AddInstruction): Promise<CopyStep> {
  let source: CopySource = { kind: 'context', dir: ctx.opts.contextDir, ...(ctx.opts.noContext ? { none: true } : {}) };
  if (ins.kind === 'copy' && ins.from !== null) source = { kind: 'layers', layerDirs: layerDirs(await sourceState(ctx, ins.from, ins.line)) };
  return {
    instruction: ins,
    source,
    targetLayers: layerDirs(state),
    workdir: state.config.config?.WorkingDir || '/',
    containerfile: ctx.opts.displayFile,
    ignore: ctx.ignore,
    // ADD downloads land in the store's tmp, which every start cleans of dead writers' files.
    tmpDir: join(ctx.opts.root, 'tmp'),
    fileDigests: ctx.fileDigests,
    ...(ctx.opts.epoch ? { clampMtime: ctx.opts.epoch.seconds } : {}),
  };
}

export const copyStep = {
  /** The exact digest and, with an epoch, the retime one (executor/retime.ts). */
  async digests(ctx: BuildContext, state: ImageState, ins: CopyInstruction | AddInstruction): Promise<{ exact: string; retime?: string }> {
    const step = await stepFor(ctx, state, ins);
    // A --from source's layers never change: its digest is memoized (copy/layer-digests.ts).
    const memo = layerDigestMemo(ctx.opts.root, step);
    const known = memo === undefined ? undefined : readLayerDigests(memo);
    if (known) return known;
    const d = await copySourceDigests(step);
    if (memo !== undefined) writeLayerDigests(memo, d);
    return d;
  },
  /** Returns the filled layer dir (inside the store's tmp, so it can be adopted by rename). */
  async apply(ctx: BuildContext, state: ImageState, ins: CopyInstruction | AddInstruction): Promise<string> {
    const dir = makeTempDir(join(ctx.opts.root, 'tmp'), 'copy');
    try {
      await applyCopy(await stepFor(ctx, state, ins), dir);
      return dir;
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  },
};
