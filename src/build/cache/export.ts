// --cache-to: writing the steps a build used (ran or found cached) to a
// registry or a local OCI layout, as one cache manifest (record.ts).
//
// Owns: which steps go (mode=min: the target stage's; mode=max: every
// stage's), and the write order — blobs first (each pushed once: HEAD,
// cross-repository mount, upload), the manifest last, so a reader never
// sees a record naming a missing blob. A failed export is an error unless
// ignore-error=true, then one warning.
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { TsbuildError } from '../../errors.js';
import { MediaType, type Descriptor } from '../../image/oci.js';
import type { Store } from '../../store/index.js';
import type { Logger } from '../../log.js';
import type { Progress as TransferProgress } from '../../registry/progress.js';
import { sha256Digest } from '../../image/manifest.js';
import { describeLocation, type CacheExportSpec } from './spec.js';
import { CACHE_CONFIG_MEDIA_TYPE, buildRecord, cacheManifest, type CacheEntry } from './record.js';
import { distributableLayer } from '../../store/distributable.js';

/** A step of this build, as an export sees it. */
export interface UsedStep extends CacheEntry {
  /** The stage's index in the Containerfile. */
  stage: number;
}

export interface ExportOptions {
  store: Store;
  log: Logger;
  tlsVerify?: boolean;
  /** Repositories of a registry the layers may already be in (the build's cache refs, pushed tags). */
  mountFrom?: readonly { host: string; repository: string }[];
  progress: (what: string) => TransferProgress;
}

/** The entries `mode` exports: one per key, in build order. */
export function selectSteps(steps: readonly UsedStep[], mode: 'min' | 'max', target: number): CacheEntry[] {
  const out = new Map<string, CacheEntry>();
  for (const s of steps) {
    if (mode === 'min' && s.stage !== target) continue;
    // The last use wins: a step built again after its imported layer failed replaces that entry.
    out.set(s.key, { key: s.key, ...(s.layer ? { layer: s.layer } : {}), history: s.history, ...(s.retime ? { retime: s.retime } : {}), ...(s.contentKey ? { contentKey: s.contentKey } : {}) });
  }
  return [...out.values()];
}

/**
 * `entries` with each layer this store built (kept unpacked only) named by
 * its gzip blob, made now unless made before (store/blob-on-demand.ts): a
 * cache is a set of layers to pull, and pulls want them small.
 */
async function withCompressedLayers(store: Store, entries: CacheEntry[]): Promise<CacheEntry[]> {
  const out: CacheEntry[] = [];
  for (const e of entries) {
    if (!e.layer || e.layer.digest !== e.layer.diffId) { out.push(e); continue; }
    const d = await distributableLayer(store, { mediaType: e.layer.mediaType, digest: e.layer.digest, size: e.layer.size });
    out.push({ ...e, layer: { ...e.layer, digest: d.digest, size: d.size, mediaType: d.mediaType } });
  }
  return out;
}

export async function exportCache(spec: CacheExportSpec, steps: readonly UsedStep[], target: number, opts: ExportOptions): Promise<void> {
  // The lease keeps prune off the gzip blobs made here until they are written out.
  await opts.store.withLease(() => exportLeased(spec, steps, target, opts));
}

async function exportLeased(spec: CacheExportSpec, steps: readonly UsedStep[], target: number, opts: ExportOptions): Promise<void> {
  try {
    const entries = await withCompressedLayers(opts.store, selectSteps(steps, spec.mode, target));
    const { record, layers } = buildRecord(entries);
    const config = await opts.store.putBlobBytes(record);
    const configDesc: Descriptor = { mediaType: CACHE_CONFIG_MEDIA_TYPE, digest: config.digest, size: config.size };
    const manifest = cacheManifest(configDesc, layers);
    if (spec.location.type === 'registry') await toRegistry(spec.location.ref, manifest, [configDesc, ...layers], opts);
    else await toLayout(spec.location.dir, spec.location.tag, manifest, [configDesc, ...layers], opts.store);
  } catch (err) {
    const why = err instanceof TsbuildError ? err.message : (err as Error).message;
    const line = `exporting cache to ${describeLocation(spec.location)} failed: ${why.split('\n')[0]}`;
    if (spec.ignoreError) { opts.log.warn(line); return; }
    throw new TsbuildError(err instanceof TsbuildError ? err.code : 'E_CACHE_EXPORT', line, { cause: err });
  }
}

async function toRegistry(refText: string, manifest: Buffer, blobs: Descriptor[], opts: ExportOptions): Promise<void> {
  const { parseReference, pushContent } = await import('../../registry/index.js');
  const dest = parseReference(refText);
  const mountFrom = (opts.mountFrom ?? []).filter((m) => m.host === dest.registry && m.repository !== dest.repository).map((m) => m.repository);
  await pushContent(opts.store, dest, { bytes: manifest, mediaType: MediaType.ociManifest }, blobs, {
    mountFrom, progress: opts.progress(refText), log: opts.log, ...(opts.tlsVerify === false ? { tlsVerify: false } : {}),
  });
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/** An OCI image layout at `dir`: blobs copied once (verified as read), then index.json replaced atomically. */
async function toLayout(dir: string, tag: string, manifest: Buffer, blobs: Descriptor[], store: Store): Promise<void> {
  const blobDir = join(dir, 'blobs', 'sha256');
  await mkdir(blobDir, { recursive: true });
  const put = async (digest: string, write: (tmp: string) => Promise<void>): Promise<void> => {
    const path = join(blobDir, digest.slice('sha256:'.length));
    if (await exists(path)) return;
    const tmp = `${path}.${process.pid}.tmp`;
    try {
      await write(tmp);
      await rename(tmp, path);
    } finally {
      await rm(tmp, { force: true });
    }
  };
  for (const d of blobs) await put(d.digest, async (tmp) => pipeline(await store.openBlob(d.digest, d.size), createWriteStream(tmp)));
  const manifestDigest = sha256Digest(manifest);
  await put(manifestDigest, (tmp) => writeFile(tmp, manifest));
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  let index: { schemaVersion: 2; mediaType?: string; manifests: Descriptor[] } = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] };
  try {
    const old = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as typeof index;
    if (Array.isArray(old.manifests)) index = { ...old, manifests: old.manifests };
  } catch { /* a new layout */ }
  const REF = 'org.opencontainers.image.ref.name';
  index.manifests = [
    ...index.manifests.filter((m) => m?.annotations?.[REF] !== tag),
    { mediaType: MediaType.ociManifest, digest: manifestDigest, size: manifest.length, annotations: { [REF]: tag } },
  ];
  const tmp = join(dir, `.index.json.${process.pid}.tmp`);
  await writeFile(tmp, JSON.stringify(index));
  await rename(tmp, join(dir, 'index.json'));
}
