// Keeping the layer cache across SOURCE_DATE_EPOCH changes. In a git
// checkout the default epoch is the HEAD commit time, so every commit
// changes it; with the epoch in every layer key, every step would run again.
//
// The rule. Each layer step gets a second key, the "retime key": the same
// chain as its exact key (stage.ts) with the epoch left out, and COPY/ADD
// hashing each file's time as `mtime < epoch ? mtime : "epoch"`
// (copy/digest.ts, retimeKeyTime),
// so a file at or after both epochs keys the same. On a miss of the exact
// key, an entry under the retime key (built under epoch E1) makes this
// build's layer (epoch E2) without running the step: its blob is unpacked
// afresh, every mtime m becomes `m == E1 ? E2 : min(m, E2)` (retimeMtime),
// and the dir is committed by the normal layer writer (deterministic tar
// and gzip, so a new diffID) and stored under the exact key as well.
// Why that is what a fresh build under E2 makes: what the step wrote has
// "now" times (at or after both epochs), clamped to E1 in the entry and to
// E2 fresh; older times were kept below E1 and are clamped to E2 fresh.
// The edge: a file whose real mtime was exactly E1 (say a file touched to
// the old commit time) comes out as E2 where a fresh build under a later
// E2 keeps E1 (a COPY source at exactly E1 keys differently, so only a RUN
// that sets such a time itself meets it). Chains retime step by step: each
// step's retime key chains on its parent's, whose layer was retimed by the
// same rule, so the stack is the one a fresh build would have stacked.
// Not retimed (exact key only): a step whose text names SOURCE_DATE_EPOCH or
// that sees it as an ARG (a RUN that reads the epoch makes other content),
// and every step after it in the stage. What the rule cannot see: a RUN
// whose output records the times of files below it (a tarball or `ls -l`
// of a COPY'd tree) keeps E1 inside that content where a --no-cache build
// records E2; such a step opts out by declaring `ARG SOURCE_DATE_EPOCH`
// before it. The registry cache carries each
// entry's retime key and epoch too (cache/record.ts), so a runner on a new
// commit retimes the layers of a --cache-from ref instead of running steps.
import { lutimesSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { native } from '../../native/index.js';
import { makeTempDir } from '../../store/blobs.js';
import type { Store } from '../../store/index.js';
import { TsbuildError } from '../../errors.js';
import { EPOCH_ARG } from '../context/index.js';
import type { StageInstruction } from '../index.js';
import type { BuildContext } from './build-context.js';
import { stepTime } from './history-times.js';
import { withHistory, withLayer, type ImageState, type StoredState } from './image-state.js';
import { workdirAfter } from './imported-step.js';
import { JsonRecords } from './json-records.js';
import type { ImportedEntry } from '../cache/import.js';

/** A retimed layer's mtime: the old epoch becomes the new one, everything else is clamped to it. */
export function retimeMtime(m: number, from: number, to: number): number {
  return m === from ? to : Math.min(m, to);
}

/** An entry of the retime index: the newest state made under this retime key, and its epoch. */
export interface RetimeEntry {
  epoch: number;
  state: StoredState;
}

/** retime key → newest entry, beside the step cache (json-records.ts). */
export class RetimeIndex extends JsonRecords<RetimeEntry> {
  constructor(root: string) {
    super(join(root, 'cache', 'retime'));
  }
}

/**
 * Unpacks blob `layer` into a fresh dir under the store's tmp and retimes
 * every entry from epoch `from` to `to`. Returns the dir, ready for
 * writeLayer (which adopts it), or undefined if the blob is gone.
 */
export async function retimedLayerDir(store: Store, root: string, layer: { diffId: string; digest: string; mediaType: string }, from: number, to: number): Promise<string | undefined> {
  if (!(await store.hasBlob(layer.digest))) return undefined;
  const dir = makeTempDir(join(root, 'tmp'), 'retime');
  try {
    const { startLayerUnpack } = await import('../../store/codec/layer-unpacker.js');
    const what = `layer ${layer.digest}`;
    const unpacker = startLayerUnpack(dir, { privileged: process.getuid?.() === 0, what });
    for await (const chunk of await store.openBlob(layer.digest)) await unpacker.write(chunk as Buffer);
    const res = await unpacker.finish();
    if (res.diffId !== layer.diffId) throw new TsbuildError('E_DIGEST_MISMATCH', `${what}: digest mismatch for diffID ${layer.diffId}: the uncompressed layer hashes to ${res.diffId}`);
    // Children first (the scan lists parents before children): setting a
    // child's time leaves its directory's mtime alone, but be safe anyway.
    const entries = native().scanLayer(dir);
    for (const e of [...entries].reverse()) {
      const t = retimeMtime(e.mtimeSec, from, to);
      if (t !== e.mtimeSec) lutimesSync(join(dir, e.path), t, t);
    }
    return dir;
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Whether a step may have a retime key: not when it names or sees the epoch (see the header). */
export function retimable(ins: StageInstruction, args: ReadonlyMap<string, string>): boolean {
  return !ins.source.includes(EPOCH_ARG) && !args.has(EPOCH_ARG);
}

/**
 * The state after `ins` made from `entry` (the same step under another
 * epoch) on top of `state`; undefined when the entry does not fit (not one
 * step on a parent of this length) or its blob is gone, and the step runs.
 */
export async function retimeStep(ctx: BuildContext, state: ImageState, ins: StageInstruction, entry: RetimeEntry): Promise<ImageState | undefined> {
  const epoch = ctx.opts.epoch;
  const s = entry.state;
  const last = s.config.history?.at(-1);
  const added = s.layers.length - state.layers.length;
  if (!epoch || !last || (added !== 0 && added !== 1) || (s.config.history?.length ?? 0) !== (state.config.history?.length ?? 0) + 1) return undefined;
  if ((added === 1) === Boolean(last.empty_layer)) return undefined;
  const history = { ...last, created: stepTime(epoch) };
  let next: ImageState;
  const layer = added === 1 ? s.layers.at(-1) : undefined;
  if (layer) {
    const dir = await retimedLayerDir(ctx.store, ctx.opts.root, layer, entry.epoch, epoch.seconds);
    if (!dir) return undefined;
    try {
      const { writeLayer } = await import('../../image/layer-writer.js');
      const blob = await writeLayer(ctx.store, dir, { adopt: true, clampMtime: epoch.seconds });
      if (!blob) return undefined;
      const lowerdir = await ctx.store.layerDir(blob.diffId);
      if (!lowerdir) return undefined;
      next = withLayer(state, blob, lowerdir, history);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } else {
    next = withHistory(state, { ...history, empty_layer: true });
  }
  if (ins.kind === 'workdir') {
    next = { ...next, config: { ...next.config, config: { ...(next.config.config ?? {}), WorkingDir: workdirAfter(ins, state) } } };
  }
  return next;
}

/**
 * retimeStep for a --cache-from entry of another epoch: its layer is fetched
 * (verified by digest and diffID) and retimed. undefined when it does not
 * fit or cannot be fetched (one warning): the step runs.
 */
export async function retimeImported(ctx: BuildContext, state: ImageState, ins: StageInstruction, entry: ImportedEntry): Promise<ImageState | undefined> {
  const epoch = entry.retime?.epoch;
  if (epoch === undefined || epoch === ctx.opts.epoch?.seconds) return undefined;
  if (entry.layer) {
    try {
      await ctx.imports.fetchLayer(ctx.store, entry, ctx.progress.transfer('pull', entry.from.name));
    } catch (err) {
      ctx.opts.log.warn(`cache ${entry.from.name}: layer ${entry.layer.digest} not used: ${((err as Error).message ?? '').split('\n')[0]}`);
      return undefined;
    }
  }
  const history = { ...entry.history, ...(entry.layer ? {} : { empty_layer: true }) };
  const stored: StoredState = {
    layers: [...state.layers.map(({ dir: _dir, ...rest }) => rest), ...(entry.layer ? [entry.layer] : [])],
    config: { ...state.config, history: [...(state.config.history ?? []), history] },
  };
  return retimeStep(ctx, state, ins, { epoch, state: stored });
}
