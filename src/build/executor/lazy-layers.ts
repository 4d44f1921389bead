// Lazy layers of a build (BuildKit's lazy refs): a step that hits a
// --cache-from entry gets its layer as a LayerRef with no dir, known only
// by (digest, diffID, size, media type) and where the cache lives. Nothing
// is downloaded until something needs the files:
// - a later step that runs on top of it (its overlay needs the lower dirs),
// - a COPY --from / RUN --mount from= of that stage whose own step is not
//   cached (source-state.ts),
// - a workdir step that has to look for its directory.
// What the final image still holds lazily when the build records it is
// written to the store as lazy layer records (store/lazy-blobs.ts): `run`,
// `save`, `--output` and a push that cannot mount fetch those on first use,
// and inspect/history need only the config and manifest, which are local.
// So a fully cached `build -t x` downloads no step layer; `tsbuild run x`
// right after it downloads them then (docker's exporter would load them
// during the build; BuildKit keeps them lazy until the exporter needs them).
import { TsbuildError } from '../../errors.js';
import { writeLazyBlob, type LazySource } from '../../store/lazy-blobs.js';
import type { ImportedEntry } from '../cache/import.js';
import type { BuildContext } from './build-context.js';
import type { ImageState, LayerRef } from './image-state.js';

/** An imported layer that failed to arrive or to verify: the stage is built again without that entry. */
export class ImportFailed extends Error {
  constructor(readonly entry: ImportedEntry, readonly why: string) {
    super(why);
  }
}

interface Pending {
  entry: ImportedEntry;
  /** Runs once the layer is unpacked (the local step cache entry). */
  onReady: () => void;
  fetch?: Promise<void>;
}

/** Layers of this process's builds that are known but not fetched, by their ref. */
const lazy = new WeakMap<LayerRef, Pending>();
/** Every lazy ref of a build (for the cache export, which may name any stage's). */
const byBuild = new WeakMap<BuildContext, LayerRef[]>();

export function markLazy(ctx: BuildContext, ref: LayerRef, entry: ImportedEntry, onReady: () => void): void {
  lazy.set(ref, { entry, onReady });
  const refs = byBuild.get(ctx) ?? [];
  refs.push(ref);
  byBuild.set(ctx, refs);
}

/** Every layer of this build still lazy. */
export function lazyRefs(ctx: BuildContext): LayerRef[] {
  return (byBuild.get(ctx) ?? []).filter(isLazy);
}

/** No dir yet: a cache hit of this build, or a layer the store holds as a lazy record. */
export function isLazy(ref: LayerRef): boolean {
  return ref.dir === '';
}

/** True when some layer of `state` has not been fetched. */
export function hasLazyLayers(state: ImageState): boolean {
  return state.layers.some(isLazy);
}

function start(ctx: BuildContext, ref: LayerRef, p: Pending): Promise<void> {
  if (!p.fetch) {
    const { entry } = p;
    p.fetch = ctx.imports.fetchLayer(ctx.store, entry, ctx.progress.transfer('pull', entry.from.name)).then((dir) => {
      ref.dir = dir;
      p.onReady();
    }, (err: unknown) => {
      const why = err instanceof TsbuildError ? err.message : (err as Error).message;
      throw new ImportFailed(entry, `cache ${entry.from.name}: layer ${ref.digest} not used: ${why.split('\n')[0]}`);
    });
    p.fetch.catch(() => {}); // observed by whoever waits
  }
  return p.fetch;
}

/**
 * Fetches and unpacks every lazy layer of `state` (in parallel, within the
 * import limit). Throws ImportFailed for the first layer that cannot be had.
 */
export function materialize(ctx: BuildContext, state: ImageState): Promise<void> {
  return materializeRefs(ctx, state.layers);
}

async function materializeRefs(ctx: BuildContext, refs: readonly LayerRef[]): Promise<void> {
  const waits: Promise<void>[] = [];
  for (const ref of refs) {
    if (ref.dir !== '') continue;
    const p = lazy.get(ref);
    // Else a local cache hit on a layer the store holds as a lazy record: it fetches that.
    waits.push(p ? start(ctx, ref, p) : ctx.store.ensureLayerUnpacked(ref.diffId, ref.digest, ref.mediaType).then((dir) => { ref.dir = dir; }));
  }
  const settled = await Promise.allSettled(waits);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * materialize for a state another stage made: a failure there cannot be
 * retried by rebuilding this stage (the other stage's result is fixed), so
 * it is the build's error, one line.
 */
export async function materializeForeign(ctx: BuildContext, state: ImageState, line: number): Promise<void> {
  try {
    await materialize(ctx, state);
  } catch (err) {
    if (!(err instanceof ImportFailed)) throw err;
    throw new TsbuildError('E_LAZY_SOURCE', err.why, { location: { file: ctx.opts.displayFile, line } });
  }
}

/** Where a lazy layer's bytes can be had later, for the store's record. */
function sourceOf(ctx: BuildContext, entry: ImportedEntry): LazySource | undefined {
  const from = entry.from;
  if (from.registry) return { kind: 'registry', host: from.registry.host, repository: from.registry.repository, ...(ctx.opts.tlsVerify === false ? { insecure: true } : {}) };
  if (from.layoutDir) return { kind: 'local', dir: from.layoutDir };
  return undefined;
}

/**
 * Before the image is recorded: every layer still lazy gets a lazy layer
 * record in the store (a layer fetched meanwhile needs none; one whose
 * source cannot be named is fetched now). `required` are the image's
 * layers (a failure is the build's); `others` are the rest of the build's
 * (a stage attempt given up after a failed layer among them: ignored).
 */
export async function recordLazyLayers(ctx: BuildContext, required: readonly LayerRef[], others: readonly LayerRef[] = []): Promise<void> {
  const fetchNow: LayerRef[] = [];
  const needed = new Set(required);
  for (const ref of [...required, ...others.filter((r) => !needed.has(r))]) {
    const p = ref.dir === '' ? lazy.get(ref) : undefined;
    if (!p) continue;
    if (p.fetch) { // already on its way: let it finish
      if (needed.has(ref)) fetchNow.push(ref);
      else await p.fetch.catch(() => {});
      continue;
    }
    const source = sourceOf(ctx, p.entry);
    if (!source || (await ctx.store.hasBlob(ref.digest))) {
      if (needed.has(ref)) fetchNow.push(ref);
      continue;
    }
    writeLazyBlob(ctx.store.root, { digest: ref.digest, diffId: ref.diffId, size: ref.size, mediaType: ref.mediaType, source });
    // Its layers are all in the store now, fetched or recorded: the next build here finds the step without a registry.
    p.onReady();
  }
  if (fetchNow.length === 0) return;
  try {
    await materializeRefs(ctx, fetchNow);
  } catch (err) {
    if (!(err instanceof ImportFailed)) throw err;
    throw new TsbuildError('E_LAZY_SOURCE', err.why);
  }
}
