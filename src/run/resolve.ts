// Resolving what a user typed after `run` or `from` into a RunnableImage:
// `dir:/path` runs a plain directory as a one-layer image (used by tests and
// for debugging a rootfs); anything else is an image in the store, pulled
// first when the store does not have it (docker's default pull policy).
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { TsbuildError, ExitCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { RunnableImage } from '../image/runnable.js';
import type { Store } from '../store/index.js';
import type { Platform } from '../image/oci.js';

export interface ResolveOptions {
  log?: Logger;
  tlsVerify?: boolean;
  /** `--platform`: the entry of a multi-platform image to run (default: this host's). */
  platform?: Platform;
}

/**
 * Resolves `ref` (pulling it if needed) and calls `pin` with it while the
 * store is leased, so a concurrent prune cannot free the layers before
 * `pin` has recorded a container that uses them.
 */
export async function withRunnableImage<T>(root: string, ref: string, opts: ResolveOptions, pin: (image: RunnableImage) => T): Promise<T> {
  if (ref.startsWith('dir:')) return pin(await resolveRunnableImage(root, ref, opts));
  const { openStore } = await import('../store/index.js');
  const store = await openStore(root);
  try {
    return await store.withLease(async () => pin(await resolveIn(store, ref, opts)));
  } finally {
    await store.close();
  }
}

export async function resolveRunnableImage(root: string, ref: string, opts: ResolveOptions = {}): Promise<RunnableImage> {
  if (ref.startsWith('dir:')) {
    const dir = resolve(ref.slice(4));
    let isDir = false;
    try { isDir = statSync(dir).isDirectory(); } catch { /* reported below */ }
    if (!isDir) throw new TsbuildError('E_IMAGE_NOT_FOUND', `not a directory: ${dir}`, { exitCode: ExitCode.internal });
    return { id: `dir:${dir}`, name: ref, layerDirs: [dir], config: {} };
  }
  const { openStore } = await import('../store/index.js');
  const store = await openStore(root);
  try {
    return await resolveIn(store, ref, opts);
  } finally {
    await store.close();
  }
}

async function resolveIn(store: Store, ref: string, opts: ResolveOptions): Promise<RunnableImage> {
  const { getRunnableImage } = await import('../store/index.js');
  try {
    const { imageRefForPlatform, formatPlatform, hostPlatform, samePlatform, runsNatively, configPlatform } = await import('../image/platform.js');
    let use = await imageRefForPlatform(store, ref, opts.platform);
    if (use === undefined) {
      const { ensureImage } = await import('../registry/index.js');
      // A foreign platform stays untagged, so the host's image keeps the name.
      const perPlatform = opts.platform ? { platform: opts.platform, policy: 'always' as const, tag: samePlatform(opts.platform, hostPlatform()) } : {};
      use = (await ensureImage(store, ref, { log: opts.log, ...(opts.tlsVerify === false ? { tlsVerify: false } : {}), ...perPlatform })).id;
    }
    const image = await getRunnableImage(store, use);
    const { config } = await store.readImage(await store.resolveImage(use));
    const p = configPlatform(config);
    if (!runsNatively(p)) {
      const { checkEmulator } = await import('./binfmt.js');
      checkEmulator(p, formatPlatform(p));
    }
    return image;
  } catch (err) {
    // Whatever went wrong with the image, `run` reports it as its own failure (125).
    if (err instanceof TsbuildError) throw new TsbuildError(err.code, err.message, { exitCode: ExitCode.internal, location: err.location, cause: err });
    throw err;
  }
}
