// The blob CAS: ROOT/blobs/sha256/<hex>. Owns atomic writes and verified
// reads; knows nothing about images. Contracts (umoci's cas, restated):
//   put     atomic (temp file in ROOT/tmp, hashed while written, fsync,
//           rename, fsync of the directory) and idempotent; a mismatch with
//           what the caller expected leaves nothing behind.
//   get     verified while streaming: a wrong byte is an error at EOF.
//   stat    cheap, unverified (size from the file system).
//   delete  idempotent; reference checks are the GC's job, not this one's.
// Concurrent puts of one digest are safe without a lock: each writes its own
// temp file and rename() atomically replaces identical content.
import { randomBytes } from 'node:crypto';
import { createReadStream, mkdirSync } from 'node:fs';
import { mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { TsbuildError } from '../errors.js';
import { BlobWriter } from './blob-writer.js';
import { digestHex, digestMismatch, sha256Of, VerifyingTransform } from './digest.js';
import type { BlobInfo, ExpectedBlob } from './index.js';

/** Temp names carry the writer's pid so that clean() can tell garbage from work in progress. */
export function tempName(kind: string): string {
  return `${kind}-${process.pid}-${randomBytes(6).toString('hex')}`;
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

  constructor(root: string, private readonly tmpDir: string) {
    this.dir = join(root, 'blobs', 'sha256');
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  path(digest: string): string {
    return join(this.dir, digestHex(digest));
  }

  async stat(digest: string): Promise<BlobInfo | undefined> {
    try {
      const st = await stat(this.path(digest));
      return { digest, size: st.size };
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return undefined;
      throw err;
    }
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
    return BlobWriter.open(path, expected, { dir: this.dir, path: (d) => this.path(d), syncDir: fsyncDir });
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
  }
}

export function notFound(digest: string): TsbuildError {
  return new TsbuildError('E_BLOB_NOT_FOUND', `blob ${digest} is not in the store`);
}
