// Unpacked layers: ROOT/layers/<diffid-hex>/diff, the directories the
// runtime stacks as overlay lowerdirs, plus layer.json (what it was made
// from and its uncompressed size).
//
// A layer is unpacked into ROOT/tmp/layer-<pid>-<rand>/diff and renamed to
// ROOT/layers/<hex> only after its diffID checked out and syncfs flushed it,
// so layers/<hex> existing means "complete and verified". Concurrent callers
// in this process share one unpack (an in-flight map); across processes a
// striped flock serialises them and the second finds the work done.
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TsbuildError } from '../errors.js';
import { fsyncDir, tempName, type BlobStore } from './blobs.js';
import { digestHex } from './digest.js';
// Static: the codec sits inside the store (issue 15); the tar reader itself
// (unpack.ts, tar-stream) still loads only when a layer is unpacked.
import { startLayerUnpack } from './codec/layer-unpacker.js';
import { fromNative, native } from '../native/index.js';
import type { LayerSource } from './index.js';
import type { LockManager } from './lock.js';

export interface LayerMeta {
  diffId: string;
  blobDigest: string;
  mediaType: string;
  compression: string;
  /** Bytes of the uncompressed tar. */
  size: number;
}

export class LayerStore {
  readonly dir: string;
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(root: string, private readonly tmpDir: string, private readonly blobs: BlobStore, private readonly locks: LockManager) {
    this.dir = join(root, 'layers');
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  /** The lowerdir of a diffID (whether or not it exists). */
  diffDir(diffId: string): string {
    return join(this.dir, digestHex(diffId), 'diff');
  }

  async find(diffId: string): Promise<string | undefined> {
    const dir = this.diffDir(diffId);
    try {
      await stat(dir);
      return dir;
    } catch {
      return undefined;
    }
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
   * layers/<hex>. If another writer published the layer first, theirs is as
   * good as ours and `work` is dropped. On failure `work` is removed.
   */
  private async publish(work: string, meta: LayerMeta): Promise<string> {
    try {
      // layer.json first, so that the one syncfs also covers it: a layer dir that
      // a crash leaves named has its record too (no per-file fsync; see entry-batch.ts).
      await writeFile(join(work, 'layer.json'), `${JSON.stringify(meta)}\n`);
      await native().syncFilesystem(work).catch((err: unknown) => { throw fromNative(`sync ${work}`, err); });
      try {
        await rename(work, join(this.dir, digestHex(meta.diffId)));
        await fsyncDir(this.dir);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
        await rm(work, { recursive: true, force: true });
      }
      return this.diffDir(meta.diffId);
    } catch (err) {
      await rm(work, { recursive: true, force: true });
      throw err;
    }
  }

  /** See Store.adoptLayerDir. The caller holds a lease. */
  async adopt(diffId: string, blobDigest: string, mediaType: string, dir: string, size: number): Promise<string> {
    const result = await this.once(diffId, async () => {
      const work = join(this.tmpDir, tempName('layer'));
      await mkdir(work, { recursive: true, mode: 0o755 });
      try {
        await rename(dir, join(work, 'diff'));
      } catch (err) {
        await rm(work, { recursive: true, force: true });
        throw err;
      }
      return this.publish(work, { diffId, blobDigest, mediaType, compression: 'gzip', size });
    });
    // Already present (made by someone else): the caller's copy is not needed.
    await rm(dir, { recursive: true, force: true });
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
