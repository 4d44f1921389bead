// The --cache-from / --cache-to specs, in buildx's spelling
// (`type=registry,ref=REF[,mode=min|max][,ignore-error=true]`,
// `type=local,src=DIR` / `type=local,dest=DIR[,tag=T]`) and buildah's bare
// form (`--cache-to REPO`, `--cache-from REPO`: a registry repository, or a
// full reference). Pure functions, so unit tests cover every form.
import { resolve } from 'node:path';
import { usageError } from '../../errors.js';

/** A bare repository names this tag (buildah keeps one tag per key; we keep one manifest). */
export const DEFAULT_REGISTRY_TAG = 'buildcache';
/** BuildKit's local cache default tag (index.json's ref.name annotation). */
export const DEFAULT_LOCAL_TAG = 'latest';

export type CacheLocation =
  | { type: 'registry'; ref: string }
  | { type: 'local'; dir: string; tag: string };

export interface CacheExportSpec {
  location: CacheLocation;
  /** min: the target stage's steps; max: every stage's (BuildKit's modes). */
  mode: 'min' | 'max';
  /** A failed export is a warning instead of an error. */
  ignoreError: boolean;
}

/** How a cache ref reads in messages and progress: the ref, or `local:DIR`. */
export function describeLocation(l: CacheLocation): string {
  return l.type === 'registry' ? l.ref : `local:${l.dir}`;
}

/** A registry reference with its tag: a bare repository gets DEFAULT_REGISTRY_TAG. */
export function withDefaultTag(ref: string): string {
  if (ref.includes('@')) return ref;
  const slash = ref.lastIndexOf('/');
  return ref.slice(slash + 1).includes(':') ? ref : `${ref}:${DEFAULT_REGISTRY_TAG}`;
}

function fields(spec: string, flag: string): Map<string, string> | undefined {
  if (!spec.includes('=')) return undefined; // the bare form
  const out = new Map<string, string>();
  for (const part of spec.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw usageError(`invalid ${flag} "${spec}": field "${part}" must be a key=value pair`);
    out.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  return out;
}

function location(f: Map<string, string>, spec: string, flag: string, dirKey: 'src' | 'dest'): CacheLocation {
  const type = f.get('type') ?? (f.has('ref') ? 'registry' : undefined);
  if (type === 'registry') {
    const ref = f.get('ref');
    if (!ref) throw usageError(`invalid ${flag} "${spec}": type=registry needs ref=REF`);
    return { type, ref: withDefaultTag(ref) };
  }
  if (type === 'local') {
    const dir = f.get(dirKey);
    if (!dir) throw usageError(`invalid ${flag} "${spec}": type=local needs ${dirKey}=DIR`);
    return { type, dir: resolve(dir), tag: f.get('tag') || DEFAULT_LOCAL_TAG };
  }
  throw usageError(`invalid ${flag} "${spec}": unsupported cache type "${type ?? ''}" (registry or local)`);
}

const IMPORT_KEYS = new Set(['type', 'ref', 'src', 'tag', 'digest']);
const EXPORT_KEYS = new Set(['type', 'ref', 'dest', 'tag', 'mode', 'ignore-error', 'image-manifest', 'oci-mediatypes', 'compression', 'compression-level', 'force-compression']);

function checkKeys(f: Map<string, string>, allowed: Set<string>, spec: string, flag: string): void {
  for (const k of f.keys()) if (!allowed.has(k)) throw usageError(`invalid ${flag} "${spec}": unknown key "${k}"`);
}

export function parseCacheFrom(spec: string): CacheLocation {
  const f = fields(spec, '--cache-from');
  if (!f) {
    if (spec.trim() === '') throw usageError('invalid --cache-from "": give REPO or type=registry,ref=REF');
    return { type: 'registry', ref: withDefaultTag(spec.trim()) };
  }
  checkKeys(f, IMPORT_KEYS, spec, '--cache-from');
  return location(f, spec, '--cache-from', 'src');
}

function bool(v: string | undefined, spec: string, key: string): boolean {
  if (v === undefined) return false;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw usageError(`invalid --cache-to "${spec}": ${key} must be true or false`);
}

export function parseCacheTo(spec: string): CacheExportSpec {
  const f = fields(spec, '--cache-to');
  if (!f) {
    if (spec.trim() === '') throw usageError('invalid --cache-to "": give REPO or type=registry,ref=REF');
    // buildah exports every step it runs: the closest is max.
    return { location: { type: 'registry', ref: withDefaultTag(spec.trim()) }, mode: 'max', ignoreError: false };
  }
  checkKeys(f, EXPORT_KEYS, spec, '--cache-to');
  const mode = f.get('mode') ?? 'min';
  if (mode !== 'min' && mode !== 'max') throw usageError(`invalid --cache-to "${spec}": mode must be min or max`);
  // image-manifest=true is BuildKit's opt-in to the form we always write; false asks for an index, which we don't write.
  if (f.get('image-manifest') === 'false') throw usageError(`invalid --cache-to "${spec}": tsbuild writes the cache as an image manifest only (image-manifest=false is not supported)`);
  return { location: location(f, spec, '--cache-to', 'dest'), mode, ignoreError: bool(f.get('ignore-error'), spec, 'ignore-error') };
}
