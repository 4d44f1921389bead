// One blob being written: the file the bytes land in, the running sha256
// and the byte count, and the commit that names the file by its digest.
//
// Owns the write-once path of a blob. A download writes into the file that
// becomes the blob (no second copy on commit), and that file can be a
// partial download kept across a crash: `replay()` hashes what it already
// holds, and writing continues after it. Nothing is named until commit()
// has checked the digest and size and flushed the file; a mismatch deletes
// the file, so wrong bytes are never resumed from.
//
// Deferred durability (a build's batch, see the crash rule in index.ts):
// the file is not flushed before it is named; instead it carries the
// sticky bit (S_ISVTX, meaningless on a regular file) until the batch's
// syncfs has returned and BlobStore.promote() clears it. A sticky blob
// may be torn after a crash, so nobody but its writer trusts it, and a
// deferred writer never replaces a durable blob of the same digest.
import type { Hash } from 'node:crypto';
import { nodeCrypto } from '../node-crypto.js';
import { createReadStream, fchmodSync, fstatSync, lstatSync, renameSync, unlinkSync } from 'node:fs';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { WritebackPacer } from '../native/index.js';
import { digestHex, digestMismatch } from './digest.js';
import type { BlobInfo, ExpectedBlob } from './types.js';

/** Where committed blobs go, and how their directory entry is made durable. */
export interface BlobTarget {
  path(digest: string): string;
  readonly dir: string;
  syncDir(dir: string): Promise<void>;
  /** Name blobs without flushing them (sticky until promoted). */
  readonly deferred?: boolean;
  /** Called before a blob is named without a flush (so a reader in this boot can trust it). */
  markUnsynced?(digest: string): void;
}

/** The mark of a blob not yet proven durable. */
export const UNSYNCED_BIT = 0o1000;

export class BlobWriter {
  private readonly hash: Hash = nodeCrypto().createHash('sha256');
  private bytes = 0;
  private readonly writeback: WritebackPacer;
  private replayed = false;
  private done = false;

  private constructor(
    /** The file being written (a temp file, or a partial download). */
    readonly path: string,
    private readonly fh: FileHandle,
    private readonly existing: number,
    private readonly expected: ExpectedBlob,
    private readonly target: BlobTarget,
  ) {
    this.writeback = new WritebackPacer(fh.fd);
  }

  /**
   * Open `path` for writing blob `expected`, keeping what it holds (a
   * partial download) unless that is longer than the blob can be. Call
   * replay() before the first write() when `existing` > 0.
   */
  static async open(path: string, expected: ExpectedBlob, target: BlobTarget): Promise<BlobWriter> {
    if (expected.digest !== undefined) digestHex(expected.digest);
    const fh = await open(path, 'a+', 0o644);
    try {
      let existing = (await fh.stat()).size;
      if (expected.size !== undefined && existing > expected.size) {
        await fh.truncate(0);
        existing = 0;
      }
      return new BlobWriter(path, fh, existing, expected, target);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /** Bytes the file held when opened (a resumable prefix). */
  get resumeOffset(): number {
    return this.existing;
  }

  /** Bytes accepted so far, the replayed prefix included. */
  get size(): number {
    return this.bytes;
  }

  /** The bytes already in the file, hashed on the way past (for a consumer that needs them too). */
  async *replay(): AsyncGenerator<Buffer> {
    if (this.replayed) return;
    this.replayed = true;
    if (this.existing === 0) return;
    for await (const chunk of createReadStream(this.path, { start: 0, end: this.existing - 1, highWaterMark: 1 << 20 })) {
      const buf = chunk as Buffer;
      this.account(buf);
      yield buf;
    }
  }

  private account(buf: Uint8Array): void {
    this.bytes += buf.length;
    // Stop a stream that overruns the expected size before it fills the disk.
    if (this.expected.size !== undefined && this.bytes > this.expected.size) throw digestMismatch('blob', this.expected, { size: this.bytes });
    this.hash.update(buf);
  }

  /** Hash the kept prefix if nobody has replayed it (a caller that does not need its bytes). */
  private async skipReplay(): Promise<void> {
    if (!this.replayed) for await (const _ of this.replay());
  }

  async write(buf: Uint8Array): Promise<void> {
    await this.skipReplay();
    this.account(buf);
    let off = 0;
    while (off < buf.length) off += (await this.fh.write(buf, off, buf.length - off)).bytesWritten;
    // Let the disk start on what we have, so commit()'s fsync waits only for the tail.
    this.writeback.wrote(buf.length);
  }

  /**
   * Check the digest and size, flush the file and rename it to its digest.
   * A mismatch throws E_DIGEST_MISMATCH and deletes the file.
   */
  async commit(): Promise<BlobInfo> {
    await this.skipReplay();
    const got = { digest: `sha256:${this.hash.digest('hex')}`, size: this.bytes };
    const { digest, size } = this.expected;
    if ((digest && got.digest !== digest) || (size !== undefined && got.size !== size)) {
      await this.abort(false);
      throw digestMismatch('blob', this.expected, got);
    }
    try {
      if (this.target.deferred) {
        await this.commitUnsynced(got.digest);
        return got;
      }
      const mode = fstatSync(this.fh.fd).mode;
      if (mode & UNSYNCED_BIT) fchmodSync(this.fh.fd, mode & 0o777); // a partial file begun in a batch
      await this.fh.sync();
      await this.fh.close();
      this.done = true;
      await rename(this.path, this.target.path(got.digest));
      await this.target.syncDir(this.target.dir);
    } catch (err) {
      await this.abort(false);
      throw err;
    }
    return got;
  }

  /** Names the file without a flush (synchronous calls where they cost microseconds). */
  private async commitUnsynced(digest: string): Promise<void> {
    const dest = this.target.path(digest);
    const fd = this.fh.fd;
    fchmodSync(fd, (fstatSync(fd).mode & 0o777) | UNSYNCED_BIT);
    this.done = true;
    await this.fh.close();
    const there = lstatSync(dest, { throwIfNoEntry: false });
    if (there && !(there.mode & UNSYNCED_BIT)) {
      unlinkSync(this.path); // the same bytes are there already, and durable: keep them
      return;
    }
    this.target.markUnsynced?.(digest);
    renameSync(this.path, dest);
  }

  /** Close the file; keep it (a partial download to resume) or delete it. */
  async abort(keep: boolean): Promise<void> {
    if (!this.done) {
      this.done = true;
      await this.fh.close().catch(() => undefined);
    }
    if (!keep) await unlink(this.path).catch(() => undefined);
  }
}
