// `tsbuild build` end to end: read and plan the Containerfile, build the
// stages the target needs (independent stages in parallel), and record the
// target's image: config and manifest blobs, the image record with its
// tags. Its times come from history-times.ts, so the same inputs give the
// same image ID. The --cache-from refs are read first and the --cache-to
// targets written last (src/build/cache). (--output and --push are the
// CLI's, after this.)
import { join } from 'node:path';
import { openStore } from '../../store/index.js';
import { MediaType, type ImageConfig } from '../../image/oci.js';
import { writeImage } from '../write-image.js';
import { parseStages, planBuild, readContainerfile, undeclaredWarning } from '../index.js';
import { loadIgnore } from '../context/index.js';
import { FileDigests, memoPath } from '../copy/file-digests.js';
import type { BuildContext, BuildOptions, StageResult } from './build-context.js';
import { BuildCache } from './cache.js';
import { drain } from './background.js';
import type { ImageState } from './image-state.js';
import { withFinalTimes } from './history-times.js';
import { makeProgress, type ProgressMode } from './progress.js';
import { recordingProgress, type StepRecord } from './step-records.js';
import { buildStage, checkEntitlements } from './stage.js';
import { resolvePlannedImages } from './images.js';
import { CacheImports } from '../cache/import.js';
import { lazyRefs, recordLazyLayers } from './lazy-layers.js';

export interface BuildResult {
  imageId: string;
  manifestDigest: string;
  manifestSize: number;
  manifestMediaType: string;
  tags: string[];
  steps: StepRecord[];
  /** Registry repositories the build's cache refs and base images live in: a --push there can mount layers from them. */
  cacheRepositories: { host: string; repository: string }[];
}

export async function build(given: BuildOptions, progressMode: ProgressMode): Promise<BuildResult> {
  // --progress json keeps stderr pure JSON: warnings become events too.
  const opts = progressMode === 'json' ? { ...given, log: jsonWarnings(given.log) } : given;
  const source = opts.containerfileText ?? (await readContainerfile(opts.containerfile, opts.displayFile));
  const cf = parseStages(source, { file: opts.displayFile });
  const plan = planBuild(cf, { buildArgs: opts.buildArgs, ...(opts.target !== undefined ? { target: opts.target } : {}), ...(opts.platform ? { platform: opts.platform } : {}) });
  // Before progress starts, so a live display does not draw over it.
  if (plan.undeclaredArgs.length > 0) opts.log.warn(undeclaredWarning(plan.undeclaredArgs));
  // Before anything runs, as BuildKit validates entitlements before solving.
  for (const ps of plan.stages) checkEntitlements(ps.stage.instructions, opts);
  const store = await openStore(opts.root);
  // Step results are cache: named without fsyncs and proven by one syncfs
  // when the image is recorded, or when the store closes after a failure
  // (the store's crash rule, src/store/index.ts).
  store.deferDurability();
  const steps: StepRecord[] = [];
  const progress = recordingProgress(makeProgress(progressMode, plan.stages.length > 1 || opts.stagePrefix !== undefined), steps);
  // Read while the stages resolve their bases; the first cache lookup waits for it.
  const imports = opts.cacheFrom?.length && !opts.noCache
    ? CacheImports.start(opts.cacheFrom, { store, log: opts.log, progress: (name) => progress.transfer('pull', name), ...(opts.tlsVerify === false ? { tlsVerify: false } : {}) })
    : CacheImports.empty();
  const failed = new AbortController();
  try {
    const ctx: BuildContext = {
      opts,
      store,
      cache: new BuildCache(opts.root),
      progress,
      plan,
      allStages: cf.stages,
      escapeToken: cf.escapeToken,
      stages: new Map(),
      images: new Map(),
      resolved: new Map(),
      ignore: opts.contextIsTar ? undefined : loadIgnore(opts.contextDir, { path: opts.containerfile, display: opts.displayFile }),
      fileDigests: new FileDigests(memoPath(opts.root, opts.contextDir), undefined, opts.contextDir),
      imports,
      usedSteps: [],
      cancel: failed.signal,
    };
    // The whole build holds a lease: a concurrent prune must not free the
    // layers it has made but not yet referenced from an image.
    const result = await store.withLease(async () => {
      // Before any stage runs: an unknown or unreachable image fails the build now.
      await resolvePlannedImages(ctx);
      // Every stage starts at once and waits for what it depends on, so
      // independent stages build in parallel.
      // The first failure stops the others (ctx.cancel) and is the one reported.
      for (const ps of plan.stages) {
        const p = buildStage(ctx, ps);
        p.catch((err: unknown) => { if (!failed.signal.aborted) failed.abort(err); });
        ctx.stages.set(ps.index, p);
      }
      await Promise.allSettled([...ctx.stages.values()]);
      if (failed.signal.aborted) throw failed.signal.reason;
      const target = (await ctx.stages.get(plan.target)) as StageResult;
      // Layers only cached steps fed stay lazy: the store records where to get
      // them (lazy-layers.ts), every stage's, so the image, a cache export and
      // the next build in this store (its local step cache) can all use them.
      await recordLazyLayers(ctx, target.state.layers, lazyRefs(ctx));
      const image = await recordImage(ctx, target.state);
      const cacheRepositories = (await imports.origins()).flatMap((o) => (o.registry ? [o.registry] : []));
      if (opts.cacheTo?.length) await exportCaches(ctx, cacheRepositories);
      // A --push can mount the cache's layers and the base images' from where they are.
      return { ...image, steps, cacheRepositories: [...cacheRepositories, ...(await baseRepositories(ctx))] };
    });
    ctx.fileDigests.save();
    progress.result(result.imageId, result.tags);
    return result;
  } finally {
    await drain(); // the step containers' files, removed in the background
    await imports.close();
    await progress.close();
    await store.close();
  }
}

function jsonWarnings(log: BuildOptions['log']): BuildOptions['log'] {
  const warn = (text: string): void => {
    if (log.level !== 'error') process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), type: 'warning', text })}\n`);
  };
  return { level: log.level, error: (m) => log.error(m), warn, info: (m) => log.info(m), debug: (m) => log.debug(m) };
}

/** Every --cache-to, one after another (each pushes a blob once; several targets rarely share a registry). */
async function exportCaches(ctx: BuildContext, cacheRepositories: { host: string; repository: string }[]): Promise<void> {
  const { exportCache } = await import('../cache/export.js');
  // Layers of base images pulled from the cache's registry can be mounted from their repositories.
  const mountFrom = [...cacheRepositories, ...(await baseRepositories(ctx))];
  for (const spec of ctx.opts.cacheTo ?? []) {
    await exportCache(spec, ctx.usedSteps, ctx.plan.target, {
      store: ctx.store, log: ctx.opts.log, mountFrom, ...(ctx.opts.tlsVerify === false ? { tlsVerify: false } : {}),
      progress: (what) => ctx.progress.transfer('push', what),
    });
  }
}

/** Registry repositories of the images the build used (FROM, --from). */
async function baseRepositories(ctx: BuildContext): Promise<{ host: string; repository: string }[]> {
  const { tryParseReference } = await import('../../reference/index.js');
  const out: { host: string; repository: string }[] = [];
  for (const ref of ctx.images.keys()) {
    const r = tryParseReference(ref.split('\0')[0] as string); // memo keys of a platform carry it after a NUL
    if (r) out.push({ host: r.registry, repository: r.repository });
  }
  return out;
}

async function recordImage(ctx: BuildContext, state: ImageState): Promise<Omit<BuildResult, 'steps' | 'cacheRepositories'>> {
  const { store, opts } = ctx;
  const inner = { ...(state.config.config ?? {}) };
  if (opts.labels.size > 0) inner.Labels = { ...(inner.Labels ?? {}), ...Object.fromEntries(opts.labels) };
  const config: ImageConfig = withFinalTimes({ ...state.config, config: inner }, opts.epoch);
  const { record, manifestDigest, manifestSize } = await writeImage(store, config, state.layers, opts.tags);
  return { imageId: record.id, manifestDigest, manifestSize, manifestMediaType: MediaType.ociManifest, tags: record.names };
}
