// Lazy layer records: ROOT/lazy/<blob-hex>.json says "this image's layer
// blob is not in the store yet; it is (digest, diffID, size, media type) and
// it can be fetched from this registry repository or local OCI layout".
//
// Why: a fully cached build from a --cache-from ref (BuildKit's lazy refs,
// cache/refs.go) records the image without downloading its step layers; the
// bytes come on first use — `run`, `save`, `--output`, a push to a registry
// that lacks the blob — through the store's open/unpack paths, which call the
// fetcher registered here (the registry client lives above the store, so it
// is injected, never imported: store → registry would be a cycle).
//
// Crash rule: a record is written to a temp name and renamed, so it is
// whole or absent; a record that does not parse counts as absent. The blob
// it names arrives through the store's ordinary writers (temp file, verified
// digest, rename; the unpack checks the diffID), so a killed fetch leaves
// nothing half-visible. The record is removed once the blob is in and its
// diffID checked: until then a present blob still counts as unverified.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TsbuildError } from '../errors.js';
import { tempName } from './blobs.js';
import type { ByteSink, Store } from './types.js';

export type LazySource =
  | { kind: 'registry'; host: string; repository: string; insecure?: boolean }
  | { kind: 'local'; dir: string };

export interface LazyBlob {
  digest: string;
  diffId: string;
  size: number;
  mediaType: string;
  source: LazySource;
}

/** Puts the blob in the store (verified), passing every byte to `sink` when given. */
export type LazyFetcher = (store: Store, blob: LazyBlob, sink?: ByteSink) => Promise<void>;

let fetcher: LazyFetcher | undefined;

/** The CLI registers the registry/layout fetcher at start (src/registry/lazy-fetch.ts). */
export function setLazyFetcher(f: LazyFetcher | undefined): void {
  fetcher = f;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

function recordPath(root: string, digest: string): string {
  return join(root, 'lazy', `${digest.slice('sha256:'.length)}.json`);
}

export function describeSource(s: LazySource): string {
  return s.kind === 'registry' ? `${s.host}/${s.repository}` : `local:${s.dir}`;
}

export function writeLazyBlob(root: string, b: LazyBlob): void {
  if (!DIGEST.test(b.digest) || !DIGEST.test(b.diffId)) throw new TsbuildError('E_INTERNAL', `bad lazy layer record for ${b.digest}`);
  const dir = join(root, 'lazy');
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, tempName('lazy'));
  writeFileSync(tmp, JSON.stringify(b));
  renameSync(tmp, recordPath(root, b.digest));
}

function isSource(s: unknown): s is LazySource {
  const x = s as Record<string, unknown> | null;
  if (!x || typeof x !== 'object') return false;
  if (x.kind === 'registry') return typeof x.host === 'string' && typeof x.repository === 'string';
  return x.kind === 'local' && typeof x.dir === 'string';
}

export function readLazyBlob(root: string, digest: string): LazyBlob | undefined {
  if (!DIGEST.test(digest)) return undefined;
  try {
    const b = JSON.parse(readFileSync(recordPath(root, digest), 'utf8')) as LazyBlob;
    if (b.digest !== digest || !DIGEST.test(b.diffId) || !Number.isSafeInteger(b.size) || typeof b.mediaType !== 'string' || !isSource(b.source)) return undefined;
    return b;
  } catch {
    return undefined;
  }
}

export function removeLazyBlob(root: string, digest: string): void {
  if (DIGEST.test(digest)) rmSync(recordPath(root, digest), { force: true });
}

/** Fetches a recorded blob into the store; one clear error when there is no record or the source cannot give it. */
export async function fetchLazyBlob(store: Store, digest: string, sink?: ByteSink): Promise<void> {
  const b = readLazyBlob(store.root, digest);
  if (!b) throw new TsbuildError('E_BLOB_NOT_FOUND', `blob ${digest} is not in the store`);
  if (!fetcher) throw new TsbuildError('E_LAZY_SOURCE', `layer ${digest} is not in the store yet (it comes from ${describeSource(b.source)}) and nothing here can fetch it`);
  try {
    await fetcher(store, b, sink);
  } catch (err) {
    const why = (err as Error).message.split('\n')[0];
    throw new TsbuildError('E_LAZY_SOURCE', `layer ${digest} is not in the store and its source ${describeSource(b.source)} cannot give it: ${why}`, { cause: err });
  }
  // The record stays until the store has also checked the diffID (store.ts).
}
