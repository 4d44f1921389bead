// Building one stage: resolve its base (a built stage, an image, or
// scratch), run the base's ONBUILD triggers first, then apply each step.
// Every step has a cache key chained from its parent's; RUN, COPY, ADD and
// a WORKDIR that creates its directory make layers, and are looked up in
// the cache (under a per-key lock, so concurrent builds share one result):
// this store's first, then the --cache-from refs (imported-step.ts), whose
// layers download in the background until a step or a reader needs them.
// With a SOURCE_DATE_EPOCH each step also has a retime key (retime.ts):
// on an exact miss, an entry of another epoch is retimed instead of run.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { TsbuildError } from '../../errors.js';
import { INIT_FILES } from '../../run/container-fs.js';
import { stackView } from '../../image/stack-view.js';
import { resolveUser } from '../../run/user.js';
import { LayerOut } from '../copy/layer-out.js';
import { expandStage, parseStages, resolveSource, type PlannedStage, type Stage, type StageInstruction } from '../index.js';
import type { BuildContext, StageResult } from './build-context.js';
import { cacheKey } from './cache.js';
import { newEntryTime, stepTime } from './history-times.js';
import { applyConfigInstruction, nopHistory } from '../instructions/config-steps.js';
import { fromStored, layerDirs, scratchState, toStored, withHistory, withLayer, type ImageState } from './image-state.js';
import { useImage } from './images.js';
import { sourceState } from './source-state.js';
import { copyStep } from './copy-step.js';
import { makeTempDir } from '../../store/blobs.js';
import { stepUsage, type StepUsage } from './step-usage.js';
import { stepKey, writeStepUsage } from '../../store/step-usage.js';
import type { ProcessUsage } from '../../run/usage.js';
import type { StepTracker } from './progress.js';
import { formatPlatform } from '../../image/platform.js';
import { ensureRunnable, stagePlatform } from '../platforms.js';
import { fromImported, noteUsed, workdirAfter } from './imported-step.js';
import { ImportFailed, hasLazyLayers, materialize } from './lazy-layers.js';
import { retimable, retimeImported, retimeStep } from './retime.js';

const INIT_EXCLUDE = new Set<string>(INIT_FILES);

/** An instruction as the cache sees it: expanded values, without its position in the file. */
function describe(i: StageInstruction): string {
  return JSON.stringify(i, (k, v) => (k === 'line' || k === 'endLine' || k === 'source' ? undefined : v));
}

function stageLabel(ps: PlannedStage): string {
  return ps.name ?? String(ps.index);
}

async function resolveBase(ctx: BuildContext, ps: PlannedStage): Promise<StageResult> {
  const line = ps.stage.from.line;
  const platform = stagePlatform(ps.platform, ctx.opts.platform, ctx.opts.displayFile, line);
  switch (ps.base.kind) {
    case 'scratch':
      // The key names the default Env, so steps cached before scratch had a PATH are not reused.
      if (platform) return epochFree({ state: scratchState(platform), key: cacheKey(['scratch', 'env-path', formatPlatform(platform)]) });
      return epochFree({ state: scratchState(), key: cacheKey(['scratch', 'env-path']) });
    case 'stage':
      return ctx.stages.get(ps.base.index) as Promise<StageResult>;
    case 'image': {
      const { state, id } = await useImage(ctx, ps.base.reference, line, platform);
      return epochFree({ state, key: cacheKey(['image', id]) });
    }
  }
}

/** A base whose key has no epoch in it: its retime key is the same. */
function epochFree(r: StageResult): StageResult {
  return { ...r, retimeKey: r.key };
}

/** ONBUILD triggers of the base run first, as if written after FROM. */
function withTriggers(stage: Stage, triggers: readonly string[], file: string): Stage {
  if (triggers.length === 0) return stage;
  const parsed = parseStages(`FROM scratch\n${triggers.join('\n')}\n`, { file: `${file} (ONBUILD of the base image)` });
  const line = stage.from.line;
  const placed = (parsed.stages[0]?.instructions ?? []).map((i) => ({ ...i, line, endLine: line }));
  return { ...stage, instructions: [...placed, ...stage.instructions] };
}

/**
 * BuildKit's rule: `RUN --security=insecure` runs only when the build was
 * granted the security.insecure entitlement (`--allow security.insecure`).
 */
export function checkEntitlements(instructions: readonly StageInstruction[], opts: { allowInsecure?: boolean; displayFile: string }): void {
  for (const ins of instructions) {
    if (ins.kind === 'run' && ins.security === 'insecure' && !opts.allowInsecure) {
      throw new TsbuildError('E_ENTITLEMENT', 'RUN --security=insecure is not allowed: grant it with --allow security.insecure', { location: { file: opts.displayFile, line: ins.line } });
    }
  }
}

/**
 * Builds the stage. Should an imported layer fail to arrive or verify, the
 * stage is built again without that entry (one warning): the steps before
 * it are local hits by then, and that step and the ones after it run.
 */
export async function buildStage(ctx: BuildContext, ps: PlannedStage): Promise<StageResult> {
  const dropped = new Set<string>();
  for (;;) {
    const pending: Promise<void>[] = [];
    try {
      const result = await buildStageOnce(ctx, ps, pending);
      await settle(pending);
      return result;
    } catch (err) {
      await Promise.allSettled(pending); // nothing still writing when the stage ends
      if (!(err instanceof ImportFailed)) throw err;
      // A layer this stage cannot do without twice (one of its base stage's): not retried again.
      if (dropped.has(err.entry.key)) throw new TsbuildError('E_LAZY_SOURCE', err.why, { location: { file: ctx.opts.displayFile, line: ps.stage.from.line } });
      dropped.add(err.entry.key);
      ctx.opts.log.warn(err.why);
      ctx.imports.drop(err.entry.key);
    }
  }
}

/** Waits for the imported layers fetched so far; throws the first failure. */
async function settle(pending: Promise<void>[]): Promise<void> {
  const settled = await Promise.allSettled(pending.splice(0));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
}

async function buildStageOnce(ctx: BuildContext, ps: PlannedStage, pending: Promise<void>[]): Promise<StageResult> {
  // No waiting for the stages this one depends on before it starts: each
  // step that reads one (FROM, COPY --from, RUN --mount from=) awaits it, so
  // the steps before it run meanwhile, as in BuildKit (a runtime stage's
  // apt-get install beside the builder stage's).
  // One build per platform runs at once (multi-platform.ts): buildx's `[linux/arm64 builder 2/3]`.
  const label = ctx.opts.stagePrefix ? `${ctx.opts.stagePrefix} ${stageLabel(ps)}` : stageLabel(ps);
  const file = ctx.opts.displayFile;
  const base = await resolveBase(ctx, ps);
  const triggers = base.state.config.config?.OnBuild ?? [];
  const stage = withTriggers(ps.stage, triggers, file);
  const baseEnv = new Map((base.state.config.config?.Env ?? []).map((kv) => {
    const eq = kv.indexOf('=');
    return [kv.slice(0, eq), kv.slice(eq + 1)] as [string, string];
  }));
  const baseArgs = base.args ?? new Map<string, string>();
  const steps = expandStage(stage, { file, escapeToken: ctx.escapeToken, buildArgs: ctx.opts.buildArgs, globalScope: ctx.plan.globalScope, baseEnv, baseArgs });
  const total = steps.length + 1;
  ctx.progress.step({ stage: label, n: 1, total, text: ps.stage.from.source, line: ps.stage.from.line }).done({});

  // A child image does not inherit its parent's triggers.
  let state: ImageState = triggers.length > 0 ? withHistory(base.state, { ...newEntryTime(ctx.opts.epoch), created_by: '/bin/sh -c #(nop) ONBUILD triggers ran', empty_layer: true }, (c) => { c.OnBuild = null; }) : base.state;
  let key = base.key;
  // Once a step may depend on the epoch, so may everything after it: no retime key.
  let retimeKey = ctx.opts.epoch ? base.retimeKey : undefined;
  const cmdState = { cmdFromBase: true };
  for (const [i, step] of steps.entries()) {
    const ins = step.instruction;
    ctx.cancel?.throwIfAborted(); // another stage failed: the build stops here
    checkEntitlements([ins], ctx.opts); // ONBUILD triggers too
    const tracker = ctx.progress.step({ stage: label, n: i + 2, total, text: ins.source, line: ins.line });
    const stepKeyParts: unknown[] = [key, describe(ins)];
    // The retime key: the same chain and parts, without the epoch (retime.ts).
    let retimeParts: unknown[] | undefined = retimeKey !== undefined && retimable(ins, step.args) ? ['retime', retimeKey, describe(ins)] : undefined;
    const both = (...parts: unknown[]) => { stepKeyParts.push(...parts); retimeParts?.push(...parts); };
    if (ins.kind === 'run') both([...step.args].sort(), ctx.opts.network);
    // As in BuildKit, the sandbox a RUN ran in is part of what it produced.
    if (ins.kind === 'run' && (ins.security === 'insecure' || ctx.opts.security?.seccomp !== undefined)) both(ins.security, ctx.opts.security?.seccomp);
    // COPY --from=STAGE also has a chain key (the source stage's key, not its
    // files): an imported entry under it names the step's content key, so a
    // source stage that is still lazy is not downloaded to hash its files.
    const chain = ins.kind === 'copy' && ins.from !== null ? await chainKey(ctx, key, ins, ins.from) : undefined;
    const byChain = chain && !ctx.opts.noCache && hasLazyLayers(chain.source) ? (ctx.cache.contentKeyOf(chain.key) ?? (await ctx.imports.get(chain.key))?.contentKey) : undefined;
    if ((ins.kind === 'copy' || ins.kind === 'add') && byChain === undefined) {
      const digests = await copyStep.digests(ctx, state, ins);
      stepKeyParts.push(digests.exact);
      if (digests.retime === undefined) retimeParts = undefined;
      else retimeParts?.push(digests.retime);
    }
    const makesLayer = ins.kind === 'run' || ins.kind === 'copy' || ins.kind === 'add' || ins.kind === 'workdir';
    // The epoch is in the layer (clamped mtimes, history times): a build
    // with another epoch must not reuse it. Without one, keys stay as they were.
    if (makesLayer && ctx.opts.epoch) stepKeyParts.push({ sourceDateEpoch: ctx.opts.epoch.seconds });
    key = byChain ?? cacheKey(stepKeyParts);
    retimeKey = retimeParts && byChain === undefined ? cacheKey(retimeParts) : undefined;
    const used = (k: string, st: ImageState, rk?: string): void => {
      if (chain) ctx.cache.putChain(chain.key, k);
      noteUsed(ctx, ps.index, k, st, rk, chain?.key);
    };

    if (!makesLayer) {
      state = withHistory(state, { ...newEntryTime(ctx.opts.epoch), created_by: nopHistory(ins), empty_layer: true }, (c) => {
        applyConfigInstruction(ins, c, step.env, cmdState);
      });
      if (ins.kind === 'maintainer') state = { ...state, config: { ...state.config, author: ins.maintainer } };
      tracker.done({});
      continue;
    }
    const cached = ctx.opts.noCache ? undefined : await lookup(ctx, key, state);
    if (cached) {
      state = cached; // the whole state after the step, its history entry included
      tracker.cached();
      used(key, state, retimeKey);
      continue;
    }
    await awaitSourceStages(ctx, ins);
    const release = await ctx.cache.lock(key);
    try {
      const again = ctx.opts.noCache ? undefined : await lookup(ctx, key, state);
      if (again) {
        state = again;
        tracker.cached();
        used(key, state, retimeKey);
        continue;
      }
      // The same step under another epoch: retimed, not run.
      const other = ctx.opts.noCache || retimeKey === undefined ? undefined : ctx.cache.retime.get(retimeKey);
      const retimed = other && other.epoch !== ctx.opts.epoch?.seconds ? await retimeStep(ctx, state, ins, other) : undefined;
      if (retimed) {
        state = retimed;
        ctx.cache.put(key, toStored(state));
        keepRetime(ctx, retimeKey, state);
        tracker.cached(undefined, { retimed: true });
        used(key, state, retimeKey);
        continue;
      }
      // A --cache-from ref's entry for exactly this key; kept locally too, so the next build needs no registry.
      const entry = ctx.opts.noCache ? undefined : await ctx.imports.get(key);
      if (entry) {
        const stepKey = key;
        state = fromImported(ctx, state, ins, entry, (after) => ctx.cache.put(stepKey, toStored(after)));
        tracker.cached(entry.from.name);
        used(key, state, retimeKey);
        continue;
      }
      // A --cache-from ref's entry for this step under another epoch: fetched, then retimed.
      const far = ctx.opts.noCache || retimeKey === undefined ? undefined : await ctx.imports.getRetime(retimeKey);
      const farState = far ? await retimeImported(ctx, state, ins, far) : undefined;
      if (far && farState) {
        state = farState;
        ctx.cache.put(key, toStored(state));
        keepRetime(ctx, retimeKey, state);
        tracker.cached(far.from.name, { retimed: true });
        used(key, state, retimeKey);
        continue;
      }
      // A step that runs reads every layer below it: the lazy ones are fetched now.
      await settle(pending);
      await materialize(ctx, state);
      const timings: Record<string, number> = {};
      const measured: Measured = {};
      const runFollows = steps.slice(i + 1).some((s) => s.instruction.kind === 'run');
      state = await execute(ctx, state, ins, step.args, timings, measured, tracker, runFollows);
      ctx.cache.put(key, toStored(state));
      keepRetime(ctx, retimeKey, state);
      used(key, state, retimeKey);
      const top = state.layers.at(-1);
      const usage = recordUsage(ctx, state, measured);
      tracker.done({ layer: state.config.history?.at(-1)?.empty_layer ? undefined : top?.digest, timings, ...(usage ? { usage } : {}) });
    } finally {
      release();
    }
  }
  return { state, key, ...(retimeKey !== undefined ? { retimeKey } : {}), args: steps.at(-1)?.args ?? baseArgs };
}

/**
 * Waits for the stages this step reads (COPY --from, RUN --mount from=)
 * before the step takes its cache lock: the locks are shared by key prefix,
 * so a stage waiting for another while it holds one could hold the very
 * lock a step of that other stage needs.
 */
async function awaitSourceStages(ctx: BuildContext, ins: StageInstruction): Promise<void> {
  const froms = ins.kind === 'copy' ? [ins.from] : ins.kind === 'run' ? ins.mounts.map((m) => m.from) : [];
  for (const from of froms) {
    const ref = from === null ? undefined : resolveSource(from, ctx.allStages);
    if (ref?.kind === 'stage') await ctx.stages.get(ref.index);
  }
}

/** The chain key of a COPY --from: the step, chained on the source stage's key; undefined for an image source. */
async function chainKey(ctx: BuildContext, parent: string, ins: StageInstruction, from: string): Promise<{ key: string; source: ImageState } | undefined> {
  const ref = resolveSource(from, ctx.allStages);
  const built = ref?.kind === 'stage' ? ctx.stages.get(ref.index) : undefined;
  if (!built) return undefined;
  const src = await built;
  return { key: cacheKey(['copy-from-stage', parent, describe(ins), src.key, ctx.opts.epoch?.seconds ?? null]), source: src.state };
}

/** Points the retime index at the state this build made under its epoch. */
function keepRetime(ctx: BuildContext, retimeKey: string | undefined, state: ImageState): void {
  if (retimeKey !== undefined && ctx.opts.epoch) ctx.cache.retime.put(retimeKey, { epoch: ctx.opts.epoch.seconds, state: toStored(state) });
}

/** What a RUN step measured while it ran, filled in by execute and commitDir. */
interface Measured {
  run?: { usage?: ProcessUsage; wallMs: number };
  layerBytes?: number;
}

/** A RUN step's report, stored under its step key so `tsbuild history` (and later cached builds) find it. */
function recordUsage(ctx: BuildContext, state: ImageState, m: Measured): StepUsage | undefined {
  if (!m.run?.usage) return undefined;
  const usage = stepUsage(m.run.usage, m.run.wallMs, m.layerBytes ?? 0);
  const index = (state.config.history?.length ?? 0) - 1;
  try {
    writeStepUsage(ctx.opts.root, stepKey(state.config, index), usage);
  } catch (err) {
    // A report that cannot be kept must not fail the build it describes.
    ctx.opts.log.warn(`cannot record the resource report of this step: ${(err as Error).message}`);
  }
  return usage;
}

async function lookup(ctx: BuildContext, key: string, from: ImageState): Promise<ImageState | undefined> {
  const stored = ctx.cache.get(key);
  return stored ? fromStored(ctx.store, stored, from) : undefined;
}

/** Runs a layer-making step and returns the state after it. */
async function execute(ctx: BuildContext, state: ImageState, ins: StageInstruction, args: ReadonlyMap<string, string>, timings: Record<string, number>, measured: Measured, tracker: StepTracker, runFollows = false): Promise<ImageState> {
  const created = stepTime(ctx.opts.epoch);
  const t0 = performance.now();
  if (ins.kind === 'workdir') {
    const dir = workdirAfter(ins, state);
    const history = { created, created_by: nopHistory(ins) };
    const layerDir = makeTempDir(join(ctx.opts.root, 'tmp'), 'workdir');
    const made = makeWorkdir(layerDirs(state), dir, state.config.config?.User ?? '', layerDir);
    const next = made ? await commitDir(ctx, state, layerDir, history, timings) : withHistory(state, { ...history, empty_layer: true });
    if (!made) rmSync(layerDir, { recursive: true, force: true });
    return { ...next, config: { ...next.config, config: { ...(next.config.config ?? {}), WorkingDir: dir } } };
  }
  if (ins.kind === 'run') {
    ensureRunnable(state.config, ctx.opts.displayFile, ins.line);
    // Loaded on first use: a fully cached build never starts a container.
    const { runStep } = await import('./run-step.js');
    const output = tracker.output();
    const result = await runStep({
      root: ctx.opts.root,
      run: ins,
      layerDirs: layerDirs(state),
      config: state.config.config ?? {},
      args,
      network: ctx.opts.network,
      limits: ctx.opts.limits,
      security: ctx.opts.security,
      outputFd: output.fd,
      ...(ctx.cancel ? { cancel: ctx.cancel } : {}),
      runFollows,
      mounts: {
        contextDir: ctx.opts.contextDir,
        file: ctx.opts.displayFile,
        secrets: ctx.opts.secrets,
        ...(ctx.ignore ? { ignore: ctx.ignore } : {}),
        layersOf: async (from) => layerDirs(await sourceState(ctx, from, ins.line)),
      },
    }).finally(() => output.close());
    timings.run = performance.now() - t0;
    measured.run = { wallMs: result.wallMs, ...(result.usage ? { usage: result.usage } : {}) };
    try {
      const shell = state.config.config?.Shell ?? ['/bin/sh', '-c'];
      const createdBy = ins.command.form === 'exec' ? JSON.stringify(ins.command.args) : `${shell.join(' ')} ${ins.command.args[0] ?? ''}`;
      return await commitDir(ctx, state, result.upperDir, { created, created_by: createdBy }, timings, measured);
    } finally {
      result.dispose();
    }
  }
  if (ins.kind === 'copy' || ins.kind === 'add') {
    const layerDir = await copyStep.apply(ctx, state, ins);
    timings.copy = performance.now() - t0;
    const verb = ins.kind === 'copy' ? 'COPY' : 'ADD';
    return commitDir(ctx, state, layerDir, { created, created_by: `/bin/sh -c #(nop) ${verb} ${ins.sources.join(' ')} ${ins.dest}`.replace(/\s+$/, '') }, timings);
  }
  throw new TsbuildError('E_INTERNAL', `unexpected step ${ins.kind}`);
}

/**
 * WORKDIR creates its directory when the image lacks it, as BuildKit does:
 * missing components owned by the current USER with mode 0755, existing
 * parents unchanged, the path resolved inside the root (it may pass
 * through a symlink of the image). Returns false when nothing was needed.
 */
function makeWorkdir(layers: string[], dir: string, user: string, layerDir: string): boolean {
  const view = stackView(layers);
  const target = view.resolve(dir, { followFinal: true });
  if (view.lstat(target)?.isDirectory()) return false;
  const owner = resolveUser(layers, user);
  const out = new LayerOut(layerDir, view, { uid: owner.uid, gid: owner.gid });
  out.ensureDir(target);
  out.finish();
  return true;
}

/** Turns a step's dir into a layer (adopting the dir) or, when empty, a history-only step. */
async function commitDir(ctx: BuildContext, state: ImageState, dir: string, history: { created: string; created_by: string }, timings: Record<string, number>, measured: Measured = {}): Promise<ImageState> {
  const t0 = performance.now();
  try {
    const { writeLayer } = await import('../../image/layer-writer.js');
    const layer = await writeLayer(ctx.store, dir, { exclude: INIT_EXCLUDE, adopt: true, ...(ctx.opts.epoch ? { clampMtime: ctx.opts.epoch.seconds } : {}) });
    timings.commit = performance.now() - t0;
    measured.layerBytes = layer?.uncompressedSize ?? 0;
    if (!layer) return withHistory(state, { ...history, empty_layer: true });
    const lowerdir = (await ctx.store.layerDir(layer.diffId)) as string;
    return withLayer(state, layer, lowerdir, history);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
