// Unpacked layers: ROOT/layers/<diffid-hex>/diff, the directories the
// runtime stacks as overlay lowerdirs, plus layer.json (what it was made
// from and its uncompressed size).
//
// A layer is unpacked into ROOT/tmp/layer-<pid>-<rand>/diff and renamed to
// ROOT/layers/<hex> only after its diffID checked out. Concurrent callers
// in this process share one unpack (an in-flight map); across processes a
// striped flock serialises them and the second finds the work done.
//
// Durability (the store's crash rule, see index.ts): layer.json is the
// proof that a layer's files are on disk. A durable publish runs syncfs
// before it writes layer.json; a deferred one (a build's step layers, see
// Store.deferDurability) writes pending.json, naming this boot, and
// promote() renames it to layer.json after the batch's one syncfs. So a
// layer dir is trusted when it has layer.json, or pending.json of the
// running boot (its files are in this kernel's page cache, whole, even if
// the process that wrote them was killed). After a crash, a pending layer
// of an earlier boot may be torn: it counts as absent, and the next unpack
// or step that makes it replaces the dir. Layers are derived data (the blob
// or the step can make them again), so losing one is never corruption.
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { TsbuildError } from '../errors.js';
import { fsyncDir, tempName, type BlobStore } from './blobs.js';
import { digestHex } from './digest.js';
import { bootId } from './boot.js';
// Static: the codec sits inside the store (issue 15); the tar reader itself
// (unpack.ts, tar-stream) still loads only when a layer is unpacked.
import { startLayerUnpack } from './codec/layer-unpacker.js';
import { fromNative, native } from '../native/index.js';
import { BackgroundTasks } from '../background-tasks.js';
import type { LayerSource } from './types.js';
import type { LockManager } from './lock.js';

export interface LayerMeta {
  diffId: string;
  blobDigest: string;
  mediaType: string;
  compression: string;
  /** Bytes of the uncompressed tar. */
  size: number;
  /**
   * Built here from a directory (a build step's layer): the store keeps no
   * blob of it, and its tar is made again from the directory on demand
   * (blob-on-demand.ts). Absent for pulled and loaded layers.
   */
  built?: boolean;
}

/** The proof of a durable layer, and its metadata. */
const META = 'layer.json';
/** The metadata of a layer published without a sync, with the boot it was written in. */
const PENDING = 'pending.json';

/** A layer dir (ROOT/layers/<hex>) is trusted: durable, or pending from this boot. */
export function layerTrusted(hexDir: string): boolean {
  if (statSync(join(hexDir, META), { throwIfNoEntry: false })) return true;
  try {
    return (JSON.parse(readFileSync(join(hexDir, PENDING), 'utf8')) as { bootId?: string }).bootId === bootId();
  } catch {
    return false;
  }
}

/** A layer dir's metadata, durable or pending (undefined if it has neither). */
export function readLayerMeta(hexDir: string): LayerMeta | undefined {
  for (const name of [META, PENDING]) {
    try {
      return JSON.parse(readFileSync(join(hexDir, name), 'utf8')) as LayerMeta;
    } catch { /* try the next */ }
  }
  return undefined;
}

export class LayerStore {
  readonly dir: string;
  private readonly inflight = new Map<string, Promise<string>>();
  /** Publish without a sync (pending.json) until promote(): a build's batch. */
  deferred = false;
  /** Hex of the layers this store published pending and has not promoted. */
  private readonly pending = new Set<string>();
  /** Removals of trees nobody needs (discard()); settle() waits for them. */
  private readonly removals = new BackgroundTasks();

  constructor(root: string, private readonly tmpDir: string, private readonly blobs: BlobStore, private readonly locks: LockManager) {
    this.dir = join(root, 'layers');
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  /**
   * Removes a tree nobody needs any more (a second copy of a layer the store
   * already has: a --no-cache rebuild that made the same layer) without
   * making the caller wait: it is renamed into tmp/ at once (gone from the
   * caller's view; a name with our pid, so a concurrent open's clean()
   * keeps it while we run and takes it if we are killed) and deleted in
   * the background. 20k files took ~0.5-3 s to delete in the build's path.
   */
  private async discard(path: string): Promise<void> {
    const target = join(this.tmpDir, tempName('discard'));
    try {
      renameSync(path, target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      await rm(path, { recursive: true, force: true }); // not on this file system: remove it here
      return;
    }
    this.removals.later(rm(target, { recursive: true, force: true }));
  }

  /** Waits for the background removals started so far (the store's close()). */
  settle(): Promise<void> {
    return this.removals.drain();
  }

  /** The lowerdir of a diffID (whether or not it exists). */
  diffDir(diffId: string): string {
    return join(this.dir, digestHex(diffId), 'diff');
  }

  /** The lowerdir of a trusted layer, or undefined (a sync call: one stat when the layer is durable). */
  async find(diffId: string): Promise<string | undefined> {
    return layerTrusted(join(this.dir, digestHex(diffId))) ? this.diffDir(diffId) : undefined;
  }

  /** Of `diffIds`, those whose layer dir is pending (unproven) on disk. */
  pendingOf(diffIds: readonly string[]): string[] {
    return diffIds.filter((d) => {
      const dir = join(this.dir, digestHex(d));
      return !statSync(join(dir, META), { throwIfNoEntry: false }) && statSync(join(dir, PENDING), { throwIfNoEntry: false }) !== undefined;
    });
  }

  /** True while some layer of this store waits for promote(). */
  get hasPending(): boolean {
    return this.pending.size > 0;
  }

  /**
   * After a syncfs of the store's file system: every layer this store
   * published pending, and the `also` layers (a pending layer of another
   * process that an image is about to name), become durable. Renaming
   * pending.json to layer.json need not itself be synced: lost, the layer
   * is merely made again.
   */
  promote(also: readonly string[] = []): void {
    for (const hex of new Set([...this.pending, ...also.map(digestHex)])) {
      const dir = join(this.dir, hex);
      try {
        if (!statSync(join(dir, META), { throwIfNoEntry: false })) renameSync(join(dir, PENDING), join(dir, META));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    this.pending.clear();
  }

  /** See Store.ensureLayerUnpacked. The caller holds a lease. */
  ensure(diffId: string, blobDigest: string, mediaType: string, source?: LayerSource): Promise<string> {
    const hex = digestHex(diffId);
    let p = this.inflight.get(hex);
    if (!p) {
      p = this.once(diffId, () => this.unpack(diffId, blobDigest, mediaType, source)).finally(() => this.inflight.delete(hex));
      this.inflight.set(hex, p);
    }
    return p;
  }

  private async once(diffId: string, make: () => Promise<string>): Promise<string> {
    const existing = await this.find(diffId);
    if (existing) return existing;
    const release = await this.locks.acquire(`layer-${digestHex(diffId).slice(0, 2)}`, true);
    try {
      return (await this.find(diffId)) ?? (await make());
    } finally {
      release();
    }
  }

  /**
   * Flush `work` (holding `diff/`) to disk, add layer.json, and rename it to
   * layers/<hex>; deferred, add pending.json instead and flush nothing. If
   * another writer published a trusted layer first, theirs is as good as
   * ours and `work` is dropped; an untrusted one (pending from an earlier
   * boot) is replaced. On failure `work` is removed. The caller holds the
   * layer's stripe lock, so no one else replaces it meanwhile.
   */
  private async publish(work: string, meta: LayerMeta): Promise<string> {
    const hex = digestHex(meta.diffId);
    const final = join(this.dir, hex);
    const deferred = this.deferred;
    try {
      if (deferred) {
        writeFileSync(join(work, PENDING), `${JSON.stringify({ ...meta, bootId: bootId() })}\n`);
      } else {
        // layer.json first, so that the one syncfs also covers it: a layer dir that
        // a crash leaves named has its record too (no per-file fsync; see entry-batch.ts).
        writeFileSync(join(work, META), `${JSON.stringify(meta)}\n`);
        await native().syncFilesystem(work).catch((err: unknown) => { throw fromNative(`sync ${work}`, err); });
      }
      if (!(await this.place(work, final))) {
        await this.discard(work);
        return this.diffDir(meta.diffId);
      }
      if (deferred) this.pending.add(hex);
      else await fsyncDir(this.dir);
      return this.diffDir(meta.diffId);
    } catch (err) {
      await rm(work, { recursive: true, force: true });
      throw err;
    }
  }

  /** Renames `work` to `final`; false when a trusted layer is already there. */
  private async place(work: string, final: string): Promise<boolean> {
    try {
      renameSync(work, final);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    }
    if (layerTrusted(final)) return false;
    // Left by a crash before it was proven durable: out of the way (into tmp/), then ours.
    const stale = join(this.tmpDir, tempName('stale-layer'));
    renameSync(final, stale);
    renameSync(work, final);
    await rm(stale, { recursive: true, force: true });
    return true;
  }

  /** See Store.adoptLayerDir. The caller holds a lease. */
  async adopt(diffId: string, blobDigest: string, mediaType: string, dir: string, size: number, built = false): Promise<string> {
    const result = await this.once(diffId, async () => {
      // Synchronous calls: each is a few microseconds, a thread-pool round trip costs more.
      const work = join(this.tmpDir, tempName('layer'));
      mkdirSync(work, { mode: 0o755 });
      try {
        renameSync(dir, join(work, 'diff'));
      } catch (err) {
        await rm(work, { recursive: true, force: true });
        throw err;
      }
      return this.publish(work, { diffId, blobDigest, mediaType, compression: built ? 'none' : 'gzip', size, ...(built ? { built } : {}) });
    });
    // Already present (made by someone else, or by an earlier build of the same step): the caller's copy is not needed.
    await this.discard(dir);
    return result;
  }

  private async unpack(diffId: string, blobDigest: string, mediaType: string, source?: LayerSource): Promise<string> {
    const what = `layer ${blobDigest}`;
    const have = await this.blobs.stat(blobDigest);
    if (!have && !source) throw new TsbuildError('E_BLOB_NOT_FOUND', `${what}: blob is not in the store`);
    const work = join(this.tmpDir, tempName('layer'));
    const diff = join(work, 'diff');
    await mkdir(diff, { recursive: true, mode: 0o755 });
    const privileged = process.getuid?.() === 0;
    const unpacker = startLayerUnpack(diff, { privileged, what });
    let res;
    try {
      if (have) {
        for await (const chunk of await this.blobs.open(blobDigest)) await unpacker.write(chunk as Buffer);
      } else {
        await (source as LayerSource).fetch({ write: (chunk) => unpacker.write(chunk) });
      }
      res = await unpacker.finish();
      if (res.diffId !== diffId) {
        throw new TsbuildError('E_DIGEST_MISMATCH', `${what}: digest mismatch for diffID ${diffId}: the uncompressed layer hashes to ${res.diffId}`);
      }
    } catch (err) {
      await unpacker.abort(err as Error);
      await rm(work, { recursive: true, force: true });
      throw err;
    }
    return this.publish(work, { diffId, blobDigest, mediaType, compression: res.compression, size: res.size });
  }
}
