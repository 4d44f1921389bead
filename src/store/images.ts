// Image records: ROOT/images/index.json, the one file that maps names to
// manifests. Owns name normalisation for the store (through the registry's
// parseReference, so `busybox`, `library/busybox` and
// `docker.io/library/busybox:latest` are one key) and the lookup rules of
// `resolve`. Writers hold the "images" lock for read-modify-write and
// replace the file atomically (temp, fsync, rename); readers need no lock.
import { mkdir, readFile, rename, writeFile, open } from 'node:fs/promises';
import { join } from 'node:path';
import { TsbuildError } from '../errors.js';
import { tryParseReference, parseReference } from '../reference/index.js';
import { fsyncDir, tempName } from './blobs.js';
import { digestHex, isDigest } from './digest.js';
import type { ImageRecord } from './types.js';

interface IndexFile {
  version: 1;
  images: ImageRecord[];
}

/** The canonical form of a name a user gave (`foo:1` → docker.io/library/foo:1). */
export function normaliseName(name: string): string {
  const ref = parseReference(name);
  if (ref.digest) throw new TsbuildError('E_BAD_REFERENCE', `invalid tag "${name}": a tag cannot contain a digest`);
  return ref.toString();
}

export function notFound(ref: string): TsbuildError {
  return new TsbuildError('E_IMAGE_NOT_FOUND', `image not known: ${ref}`);
}

export class ImageIndex {
  readonly dir: string;
  readonly file: string;

  constructor(root: string, private readonly tmpDir: string) {
    this.dir = join(root, 'images');
    this.file = join(this.dir, 'index.json');
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  async load(): Promise<ImageRecord[]> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    try {
      const parsed = JSON.parse(text) as IndexFile;
      return Array.isArray(parsed.images) ? parsed.images : [];
    } catch {
      throw new TsbuildError('E_STORE_CORRUPT', `image index ${this.file} is not valid JSON`);
    }
  }

  /** Replace the index atomically. Callers hold the "images" lock. */
  async save(images: ImageRecord[]): Promise<void> {
    const tmp = join(this.tmpDir, tempName('images'));
    const body: IndexFile = { version: 1, images };
    await writeFile(tmp, `${JSON.stringify(body, null, 1)}\n`, { mode: 0o644 });
    const fh = await open(tmp, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.file);
    await fsyncDir(this.dir);
  }
}

/**
 * The record `ref` names in `images`, following docker's order: an exact
 * (normalised) name, `name@digest`, a full digest (image ID or manifest
 * digest), then an ID prefix of 4+ hex digits.
 */
export function lookup(images: readonly ImageRecord[], ref: string): ImageRecord | undefined {
  const s = ref.trim();
  const idLike = /^(?:sha256:)?[a-f0-9]{4,64}$/.test(s);
  if (isDigest(s)) {
    return images.find((r) => r.id === s) ?? images.find((r) => r.manifestDigest === s);
  }
  const parsed = idLike && s.length === 64 ? undefined : tryParseReference(s);
  if (parsed?.digest) {
    const full = `${parsed.name}@${parsed.digest}`;
    return images.find((r) => r.repoDigests.includes(full))
      ?? images.find((r) => r.manifestDigest === parsed.digest && r.names.some((n) => parseReference(n).name === parsed.name))
      ?? images.find((r) => r.manifestDigest === parsed.digest || r.repoDigests.some((d) => d.endsWith(`@${parsed.digest}`)));
  }
  if (parsed) {
    const name = parsed.toString();
    const byName = images.find((r) => r.names.includes(name));
    if (byName) return byName;
  }
  if (idLike) {
    const hex = s.replace(/^sha256:/, '');
    const matches = uniqueById(images.filter((r) => digestHex(r.id).startsWith(hex)));
    if (matches.length > 1) throw new TsbuildError('E_AMBIGUOUS_ID', `image ID prefix ${hex} matches ${matches.length} images`);
    return matches[0];
  }
  return undefined;
}

/** Records sharing a config (same ID) count as one image for prefix matching. */
function uniqueById(records: ImageRecord[]): ImageRecord[] {
  const seen = new Set<string>();
  return records.filter((r) => (seen.has(r.id) ? false : (seen.add(r.id), true)));
}

/** True if `ref` names the image by ID or digest rather than by a name. */
export function isIdReference(images: readonly ImageRecord[], ref: string): boolean {
  const s = ref.trim();
  if (isDigest(s)) return true;
  if (!/^(?:sha256:)?[a-f0-9]{4,64}$/.test(s)) return false;
  const parsed = tryParseReference(s);
  return !(parsed && images.some((r) => r.names.includes(parsed.toString())));
}
