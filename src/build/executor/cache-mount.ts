// RUN --mount=type=cache: which directory under --root a step gets, and
// what is in it the first time.
//
// A cache is named by its id (default: the target). With `from=STAGE`
// (and `source=DIR`) it is seeded from that stage's or image's DIR, as
// BuildKit does: its mount manager keys such a cache by the id *and* the
// source's content (solver/llbsolver/mounts/mount.go, getRefCacheDir:
// `key := id + ":" + ref.ID()`), makes it as a copy-on-write child of the
// source the first time that key is seen, and reuses it, writes and all,
// every later time. So the seed happens once per (id, source content): a
// cache that exists is never re-seeded, a changed source gives a fresh
// seeded cache, and the plain cache of the same id is a separate one.
// (buildah instead mounts the stage's own directory as the "cache", so
// nothing persists; we follow BuildKit.) One difference: BuildKit keeps the
// whole source stage in the cache and mounts its `source=` subdirectory;
// we copy only that subdirectory, so `source=` is part of the key.
//
// Sharing: `locked` takes the cache's lock for the step, `private` takes
// it if free and otherwise gives the step a fresh (seeded) directory of
// its own; `shared` takes no lock.
import { chmodSync, chownSync, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { sha256Hex } from '../../sha256.js';
import { join, posix } from 'node:path';
import { native } from '../../native/index.js';
import type { RunMount } from '../index.js';
import { chownTree, type Owner } from './mount-copy.js';
import { makeTempDir } from '../../store/blobs.js';

export interface CacheRequest {
  root: string;
  /** The `from=` source's layer dirs (bottom first), or null for an unseeded cache. */
  fromLayers: string[] | null;
  /** Copies the `from=` source into an empty dir. */
  seed(dest: string): Promise<void>;
  /** buildah's `U`: the step's user, who gets the whole cache. */
  owner: Owner | null;
}

/** What the step holds until it ends: lock fds to release, temp dirs to remove. */
export interface Held {
  locks: number[];
  temps: string[];
}

function cacheDirName(key: string): string {
  return sha256Hex(key).slice(0, 32);
}

/** The cache's key: its id alone, or with the seed's identity (layer dirs are named by content). */
function cacheKey(m: RunMount, target: string, fromLayers: string[] | null): string {
  const id = m.id ?? target;
  if (!fromLayers) return id;
  return JSON.stringify(['from', id, posix.resolve('/', m.source ?? '/'), fromLayers]);
}

/** A new seeded dir at `dir`, made aside and renamed in, so a concurrent step never sees half a seed. */
async function createSeeded(dir: string, tmpRoot: string, seed: (dest: string) => Promise<void>): Promise<void> {
  const made = makeTempDir(tmpRoot, 'cacheseed');
  try {
    await seed(made);
    renameSync(made, dir);
  } catch (err) {
    rmSync(made, { recursive: true, force: true });
    // Another step seeded the same cache first: use theirs.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST' && code !== 'ENOTEMPTY') throw err;
  }
}

/** The host directory the cache mount shows, prepared for this step. */
export async function cacheDir(m: RunMount, target: string, req: CacheRequest, held: Held): Promise<string> {
  const tmpRoot = join(req.root, 'tmp');
  const base = join(req.root, 'cache', 'mounts');
  mkdirSync(base, { recursive: true });
  mkdirSync(tmpRoot, { recursive: true });
  let dir = join(base, cacheDirName(cacheKey(m, target, req.fromLayers)));
  if (!req.fromLayers) mkdirSync(dir, { recursive: true });
  else if (!existsSync(dir)) await createSeeded(dir, tmpRoot, req.seed);
  if (m.sharing === 'locked') {
    held.locks.push(await native().lockFile(`${dir}.lock`, true));
  } else if (m.sharing === 'private') {
    // Private: the shared dir if free, else a fresh one for this step only.
    try {
      held.locks.push(native().tryLockFile(`${dir}.lock`, true));
    } catch {
      dir = makeTempDir(tmpRoot, 'cacheprivate');
      held.temps.push(dir);
      if (req.fromLayers) await req.seed(dir);
    }
  }
  const st = statSync(dir);
  if (m.uid !== null || m.gid !== null) chownSync(dir, m.uid ?? st.uid, m.gid ?? st.gid);
  if (m.mode !== null) chmodSync(dir, m.mode);
  // As buildah's U does to a volume: every use, recursively, so files an
  // earlier step (or another user) left are the step user's too.
  if (req.owner) chownTree(dir, req.owner);
  return dir;
}
