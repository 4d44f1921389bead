// The registry client's public face for the rest of tsbuild.
//
// Owns: `ensureImage`, the "pull if missing" step that `run`, `from` and
// the build engine's FROM use, plus re-exports of pull/push and the
// reference parser. Local names win: an image tagged `app:1` locally is
// found by that name before any registry is asked (CONTRACT.md).
import type { Platform } from '../image/oci.js';
import type { ImageRecord, Store } from '../store/index.js';
import { TsbuildError } from '../errors.js';
import type { Logger } from '../log.js';
import { fetchImageManifest, pull, type FetchedManifest, type PullOptions } from './pull.js';
import { RegistryClient } from './http.js';
import { hostPlatform } from '../image/manifest.js';
import { makeProgress, type Progress } from './progress.js';
import { parseReference } from '../reference/index.js';

export { pull, fetchImageManifest, type FetchedManifest, type PullOptions, type PullResult } from './pull.js';
export { push, pushContent, type PushOptions, type PushResult, type ContentPushOptions } from './push.js';
export { parseReference, tryParseReference, apiHost, type ImageReference } from '../reference/index.js';
export { parsePlatform, hostPlatform, formatPlatform } from '../image/manifest.js';
export { makeProgress, silentProgress, type Progress } from './progress.js';
export { findCredentials, saveCredentials } from './credentials.js';

/** docker's --pull policies. */
export type PullPolicy = 'missing' | 'always' | 'never';

export interface EnsureImageOptions extends Omit<PullOptions, 'progress' | 'manifest'> {
  /** What resolveImage found for this reference earlier: not looked up again. */
  resolved?: ResolvedImage;
  policy?: PullPolicy;
  platform?: Platform;
  /** Progress goes to stderr at info level (bars in a TTY); quiet below it. */
  log?: Logger;
  quiet?: boolean;
  /** Report to this instead of stderr lines (a build's json or plain progress). */
  progress?: Progress;
}

/** What a reference names, known without pulling layers: a stored image, or a registry's manifest. */
export type ResolvedImage = { kind: 'local'; record: ImageRecord } | { kind: 'remote'; manifest: FetchedManifest };

/**
 * Resolve `ref` as ensureImage would, without pulling: the stored image
 * (unless policy is `always`), else the registry's manifest for this
 * platform (its digest and config digest). Fails as ensureImage would for
 * a name the store lacks, an unknown image or an unreachable registry.
 */
export async function resolveImage(store: Store, ref: string, opts: EnsureImageOptions = {}): Promise<ResolvedImage> {
  const policy = opts.policy ?? 'missing';
  const isId = /^(sha256:)?[0-9a-f]{64}$/.test(ref);
  if (policy !== 'always' || isId) {
    const local = await store.findImage(ref);
    if (local) return { kind: 'local', record: local };
  }
  if (policy === 'never' || isId) throw new TsbuildError('E_IMAGE_NOT_FOUND', `image not found: ${ref}`);
  const parsed = parseReference(ref);
  const client = new RegistryClient(parsed.registry, opts);
  try {
    return { kind: 'remote', manifest: await fetchImageManifest(client, parsed, opts.platform ?? hostPlatform()) };
  } finally {
    client.close();
  }
}

/**
 * The image `ref` names: from the store when present (unless policy is
 * `always`), else pulled. Image IDs and digests are never pulled by prefix.
 * Throws E_IMAGE_NOT_FOUND for policy `never` or an ID the store lacks.
 */
export async function ensureImage(store: Store, ref: string, opts: EnsureImageOptions = {}): Promise<ImageRecord> {
  const resolved = opts.resolved ?? await resolveImage(store, ref, opts);
  if (resolved.kind === 'local') return resolved.record;
  const parsed = parseReference(ref);
  const quiet = opts.quiet ?? (opts.log ? opts.log.level === 'error' || opts.log.level === 'warn' : true);
  // Only in a terminal: in logs, a failed pull must stay one error line.
  if (!quiet && !opts.progress && process.stderr.isTTY) opts.log?.info(`Trying to pull ${parsed.toString()}...`);
  const result = await pull(store, parsed, { ...opts, manifest: resolved.manifest, progress: opts.progress ?? makeProgress('Copying', { quiet }) });
  return result.image;
}
