// The blob CAS: ROOT/blobs/sha256/<hex>. Owns atomic writes and verified
// reads; knows nothing about images. Contracts (umoci's cas, restated):
//   put     atomic (temp file in ROOT/tmp, hashed while written, fsync,
//           rename, fsync of the directory) and idempotent; a mismatch with
//           what the caller expected leaves nothing behind.
//   get     verified while streaming: a wrong byte is an error at EOF.
//   stat    cheap, unverified (size from the file system).
//   delete  idempotent; reference checks are the GC's job, not this one's.
// In a deferred batch (Store.deferDurability) put skips the fsyncs and marks
// the file (blob-writer.ts) and notes it in ROOT/pending/<boot id>/<hex>;
// stat trusts such a blob only in the boot that wrote it, until promote()
// (after the batch's syncfs) clears both marks.
// Concurrent puts of one digest are safe without a lock: each writes its own
// temp file and rename() atomically replaces identical content.
import { nodeCrypto } from '../node-crypto.js';
import { chmodSync, createReadStream, lstatSync, mkdirSync, readdirSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { TsbuildError } from '../errors.js';
import { BlobWriter, UNSYNCED_BIT } from './blob-writer.js';
import { bootId } from './boot.js';
import { digestHex, digestMismatch, sha256Of, VerifyingTransform } from './digest.js';
import type { BlobInfo, ExpectedBlob } from './types.js';

/** Temp names carry the writer's pid so that clean() can tell garbage from work in progress. */
export function tempName(kind: string): string {
  return `${kind}-${process.pid}-${nodeCrypto().randomBytes(6).toString('hex')}`;
}

/**
 * A new private dir under the store's tmp dir, named by tempName: a
 * concurrent store open's clean() keeps it while this process lives
 * (mkdtemp's random suffix carries no pid, so clean() took such dirs for
 * garbage and removed them under a running build).
 */
export function makeTempDir(tmpDir: string, kind: string): string {
  const dir = join(tmpDir, tempName(kind));
  mkdirSync(dir, { mode: 0o700 });
  return dir;
}

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function isErrno(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException)?.code === code;
}

export class BlobStore {
  readonly dir: string;
  /** Name blobs without flushing them, until promote(): a build's batch. */
  deferred = false;
  /** Blobs this store named without a flush and has not promoted. */
  private readonly unsynced = new Set<string>();

  /** ROOT/pending: per boot, the blobs named without a sync in that boot. */
  private readonly pendingRoot: string;

  constructor(root: string, private readonly tmpDir: string) {
    this.dir = join(root, 'blobs', 'sha256');
    this.pendingRoot = join(root, 'pending');
  }

  private marker(digest: string): string {
    return join(this.pendingRoot, bootId(), digestHex(digest));
  }

  /** Before an unsynced blob is named: its note in this boot's pending dir. */
  private markUnsynced(digest: string): void {
    try {
      writeFileSync(this.marker(digest), '');
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
      mkdirSync(join(this.pendingRoot, bootId()), { recursive: true });
      writeFileSync(this.marker(digest), '');
    }
    this.unsynced.add(digest);
  }

  /** The pending notes of earlier boots: what they name may be torn, and stat no longer trusts it anyway. */
  cleanPending(): void {
    let boots: string[];
    try {
      boots = readdirSync(this.pendingRoot);
    } catch {
      return;
    }
    for (const b of boots) if (b !== bootId()) rmSync(join(this.pendingRoot, b), { recursive: true, force: true });
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  path(digest: string): string {
    return join(this.dir, digestHex(digest));
  }

  /**
   * Present and trusted: durable, or unsynced and written in this boot.
   * With `any`, also an unsynced blob of an earlier boot (what prune may
   * remove). Synchronous underneath: a stat is cheaper than a thread-pool trip.
   */
  async stat(digest: string, any = false): Promise<BlobInfo | undefined> {
    const st = statSync(this.path(digest), { throwIfNoEntry: false });
    if (!st) return undefined;
    if (st.mode & UNSYNCED_BIT && !any && !this.unsynced.has(digest) && !statSync(this.marker(digest), { throwIfNoEntry: false })) return undefined;
    return { digest, size: st.size };
  }

  get hasUnsynced(): boolean {
    return this.unsynced.size > 0;
  }

  /** Of `digests`, those present but not yet proven durable (another writer's, say). */
  unsyncedOf(digests: readonly string[]): string[] {
    return digests.filter((d) => ((statSync(this.path(d), { throwIfNoEntry: false })?.mode ?? 0) & UNSYNCED_BIT) !== 0);
  }

  /**
   * After a syncfs of the store's file system: the blobs this store named
   * unsynced, and `also`, are durable. Clearing the marks need not be synced:
   * lost, the blob is merely written again.
   */
  promote(also: readonly string[] = []): void {
    for (const digest of new Set([...this.unsynced, ...also])) {
      const path = this.path(digest);
      const st = lstatSync(path, { throwIfNoEntry: false });
      if (st && st.mode & UNSYNCED_BIT) chmodSync(path, st.mode & 0o777);
      try { unlinkSync(this.marker(digest)); } catch { /* none, or gone */ }
    }
    this.unsynced.clear();
  }

  async put(source: Readable | AsyncIterable<Uint8Array>, expected: ExpectedBlob = {}): Promise<BlobInfo> {
    if (expected.digest !== undefined) digestHex(expected.digest);
    // Already present (and the right size): reuse it without reading the source.
    if (expected.digest) {
      const have = await this.stat(expected.digest);
      if (have && (expected.size === undefined || have.size === expected.size)) {
        (source as Readable).destroy?.();
        return have;
      }
    }
    const writer = await this.writer(join(this.tmpDir, tempName('blob')), expected);
    try {
      for await (const chunk of source) {
        await writer.write(chunk instanceof Buffer ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      }
      return await writer.commit();
    } catch (err) {
      (source as Readable).destroy?.();
      await writer.abort(false);
      throw err;
    }
  }

  /** A writer for one blob into `path` (kept across crashes when it is a partial download). */
  writer(path: string, expected: ExpectedBlob = {}): Promise<BlobWriter> {
    return BlobWriter.open(path, expected, {
      dir: this.dir,
      path: (d) => this.path(d),
      syncDir: fsyncDir,
      deferred: this.deferred,
      markUnsynced: (d) => this.markUnsynced(d),
    });
  }

  async putBytes(data: Uint8Array, expected: ExpectedBlob = {}): Promise<BlobInfo> {
    const got = { digest: sha256Of(data), size: data.byteLength };
    if ((expected.digest && expected.digest !== got.digest) || (expected.size !== undefined && expected.size !== got.size)) {
      if (expected.digest) digestHex(expected.digest);
      throw digestMismatch('blob', expected, got);
    }
    return this.put((async function* () { yield data; })(), got);
  }

  /** A stream that fails at EOF unless the bytes hash to `digest` (and number `size`). */
  async open(digest: string, size?: number): Promise<Readable> {
    const path = this.path(digest);
    const have = await this.stat(digest);
    if (!have) throw notFound(digest);
    if (size !== undefined && have.size !== size) throw digestMismatch(`blob ${digest}`, { digest, size }, { size: have.size });
    const file = createReadStream(path, { highWaterMark: 1 << 20 });
    const verify = new VerifyingTransform(`blob ${digest}`, { digest, size: size ?? have.size });
    file.on('error', (err) => verify.destroy(err));
    verify.on('close', () => file.destroy());
    return file.pipe(verify);
  }

  async read(digest: string, size?: number): Promise<Buffer> {
    let data: Buffer;
    try {
      data = await readFile(this.path(digest));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw notFound(digest);
      throw err;
    }
    const got = { digest: sha256Of(data), size: data.length };
    if (got.digest !== digest || (size !== undefined && got.size !== size)) throw digestMismatch(`blob ${digest}`, { digest, size }, got);
    return data;
  }

  async delete(digest: string): Promise<void> {
    await unlink(this.path(digest)).catch((err: unknown) => {
      if (!isErrno(err, 'ENOENT')) throw err;
    });
    try { unlinkSync(this.marker(digest)); } catch { /* none */ }
  }
}

export function notFound(digest: string): TsbuildError {
  return new TsbuildError('E_BLOB_NOT_FOUND', `blob ${digest} is not in the store`);
}
