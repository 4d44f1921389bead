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
import { detectFileCompression } from '../image/compression.js';
import { unpackLayer } from '../image/unpack.js';
import { fsyncDir, tempName, type BlobStore } from './blobs.js';
import { digestHex } from './digest.js';
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
  ensure(diffId: string, blobDigest: string, mediaType: string): Promise<string> {
    const hex = digestHex(diffId);
    let p = this.inflight.get(hex);
    if (!p) {
      p = this.ensureLocked(diffId, blobDigest, mediaType).finally(() => this.inflight.delete(hex));
      this.inflight.set(hex, p);
    }
    return p;
  }

  private async ensureLocked(diffId: string, blobDigest: string, mediaType: string): Promise<string> {
    const existing = await this.find(diffId);
    if (existing) return existing;
    const hex = digestHex(diffId);
    const release = await this.locks.acquire(`layer-${hex.slice(0, 2)}`, true);
    try {
      return (await this.find(diffId)) ?? (await this.unpack(diffId, blobDigest, mediaType));
    } finally {
      release();
    }
  }

  /** See Store.adoptLayerDir. The caller holds a lease. */
  async adopt(diffId: string, blobDigest: string, mediaType: string, dir: string, size: number): Promise<string> {
    const existing = await this.find(diffId);
    if (existing) {
      await rm(dir, { recursive: true, force: true });
      return existing;
    }
    const hex = digestHex(diffId);
    const work = join(this.tmpDir, tempName('layer'));
    await mkdir(work, { recursive: true, mode: 0o755 });
    try {
      await rename(dir, join(work, 'diff'));
      const meta: LayerMeta = { diffId, blobDigest, mediaType, compression: 'gzip', size };
      await writeFile(join(work, 'layer.json'), `${JSON.stringify(meta)}\n`);
      try {
        await rename(work, join(this.dir, hex));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
        await rm(work, { recursive: true, force: true }); // another build published the same layer first
      }
      return this.diffDir(diffId);
    } catch (err) {
      await rm(work, { recursive: true, force: true });
      throw err;
    }
  }

  private async unpack(diffId: string, blobDigest: string, mediaType: string): Promise<string> {
    const hex = digestHex(diffId);
    const what = `layer ${blobDigest}`;
    const blobPath = this.blobs.path(blobDigest);
    if (!(await this.blobs.stat(blobDigest))) throw new TsbuildError('E_BLOB_NOT_FOUND', `${what}: blob is not in the store`);
    const work = join(this.tmpDir, tempName('layer'));
    const diff = join(work, 'diff');
    await mkdir(diff, { recursive: true, mode: 0o755 });
    let done = false;
    try {
      // Magic bytes decide, not the media type: archives and registries mislabel.
      const compression = await detectFileCompression(blobPath);
      const source = await this.blobs.open(blobDigest);
      const privileged = process.getuid?.() === 0;
      const res = await unpackLayer(source, compression, diff, { privileged, what });
      if (res.diffId !== diffId) {
        throw new TsbuildError('E_DIGEST_MISMATCH', `${what}: digest mismatch for diffID ${diffId}: the uncompressed layer hashes to ${res.diffId}`);
      }
      const meta: LayerMeta = { diffId, blobDigest, mediaType, compression, size: res.size };
      await writeFile(join(work, 'layer.json'), `${JSON.stringify(meta)}\n`);
      try {
        await rename(work, join(this.dir, hex));
      } catch (err) {
        // Someone else published it (a process that ignored the lock, or a
        // crash-recovered duplicate): theirs is as good as ours.
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
        return this.diffDir(diffId);
      }
      await fsyncDir(this.dir);
      done = true;
      return this.diffDir(diffId);
    } finally {
      if (!done) await rm(work, { recursive: true, force: true });
    }
  }
}
