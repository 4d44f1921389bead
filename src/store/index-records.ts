// Image indexes the store keeps under a name: ROOT/images/indexes.json maps
// a normalised name to an OCI image index (its exact bytes, so the digest a
// push or save reproduces is the one recorded). The images an index lists
// are ordinary image records (untagged, found by manifest digest); this file
// only adds the name → index layer that multi-platform builds and
// `tsbuild manifest` need. A name is either an image's or an index's: giving
// it to one takes it from the other (the caller untags the image).
//
// Why a separate file and not images/index.json: every reader of image
// records expects a config and layers; an index has neither.
import { sha256Hex } from '../sha256.js';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TsbuildError } from '../errors.js';
import type { ImageIndex } from '../image/oci.js';
import { tempName } from './blobs.js';
import { normaliseName } from './images.js';

export interface IndexRecord {
  name: string;
  digest: string;
  mediaType: string;
  /** The index JSON exactly as its digest was computed. */
  json: string;
  created: string;
}

function file(root: string): string {
  return join(root, 'images', 'indexes.json');
}

export function loadIndexRecords(root: string): IndexRecord[] {
  let text: string;
  try { text = readFileSync(file(root), 'utf8'); } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  try {
    const v = JSON.parse(text) as { indexes?: IndexRecord[] };
    return Array.isArray(v.indexes) ? v.indexes : [];
  } catch {
    throw new TsbuildError('E_STORE_CORRUPT', `index records ${file(root)} are not valid JSON`);
  }
}

function save(root: string, records: IndexRecord[]): void {
  mkdirSync(join(root, 'images'), { recursive: true });
  mkdirSync(join(root, 'tmp'), { recursive: true });
  const tmp = join(root, 'tmp', tempName('indexes'));
  writeFileSync(tmp, `${JSON.stringify({ version: 1, indexes: records }, null, 1)}\n`);
  renameSync(tmp, file(root));
}

/** The index named `ref` (a name, or the index digest), if any. */
export function findIndexRecord(root: string, ref: string): IndexRecord | undefined {
  const records = loadIndexRecords(root);
  if (/^sha256:[a-f0-9]{64}$/.test(ref)) return records.find((r) => r.digest === ref);
  let name: string;
  try { name = normaliseName(ref); } catch { return undefined; }
  return records.find((r) => r.name === name);
}

export function parseIndexRecord(r: IndexRecord): ImageIndex {
  return JSON.parse(r.json) as ImageIndex;
}

/** Name `index` (bytes as given) under each of `names`, replacing what they named. */
export function putIndexRecord(root: string, names: readonly string[], json: string, mediaType: string): IndexRecord[] {
  const digest = `sha256:${sha256Hex(json)}`;
  const normal = names.map((n) => normaliseName(n));
  const created = new Date().toISOString();
  const records = loadIndexRecords(root).filter((r) => !normal.includes(r.name));
  const added = normal.map((name) => ({ name, digest, mediaType, json, created }));
  save(root, [...records, ...added]);
  return added;
}

/** Remove the index named `name`; false if there was none. */
export function removeIndexRecord(root: string, name: string): boolean {
  const n = normaliseName(name);
  const records = loadIndexRecords(root);
  const kept = records.filter((r) => r.name !== n);
  if (kept.length === records.length) return false;
  save(root, kept);
  return true;
}

/** Manifest digests some named index lists: prune keeps those images. */
export function indexedManifests(root: string): Set<string> {
  return new Set(loadIndexRecords(root).flatMap((r) => parseIndexRecord(r).manifests.map((m) => m.digest)));
}
