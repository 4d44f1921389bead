// The blob CAS without root: atomic, verified, idempotent puts; verified
// reads that fail on a rotten byte; nothing left behind by a mismatch.
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../../src/store/index.js';
import { sha256Of } from '../../../src/store/digest.js';

let dir: string;
let store: Store;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsbuild-unit-store-'));
  store = await openStore(join(dir, 'root'));
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const blobFiles = (): string[] => readdirSync(join(dir, 'root/blobs/sha256'));
const tmpFiles = (): string[] => readdirSync(join(dir, 'root/tmp'));

async function drain(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('blob store', () => {
  it('puts a stream under its sha256 and reads it back verified', async () => {
    const data = Buffer.alloc(3 * 1024 * 1024 + 7, 'abc');
    const info = await store.putBlob(Readable.from([data.subarray(0, 1000), data.subarray(1000)]));
    expect(info).toEqual({ digest: sha256Of(data), size: data.length });
    expect(await store.hasBlob(info.digest)).toBe(true);
    expect(await store.statBlob(info.digest)).toEqual(info);
    expect((await drain(await store.openBlob(info.digest, info.size))).equals(data)).toBe(true);
    expect(tmpFiles()).toEqual([]);
  });

  it('is idempotent: the same content twice is one blob', async () => {
    const a = await store.putBlobBytes(Buffer.from('same'));
    const b = await store.putBlob(Readable.from([Buffer.from('sa'), Buffer.from('me')]), { digest: a.digest, size: 4 });
    expect(b).toEqual(a);
    expect(blobFiles()).toHaveLength(1);
  });

  it('rejects a digest mismatch naming the expected digest, and keeps nothing', async () => {
    const expected = sha256Of(Buffer.from('what the manifest said'));
    const err = await store.putBlob(Readable.from([Buffer.from('something else')]), { digest: expected }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_DIGEST_MISMATCH' });
    expect((err as Error).message).toContain(expected);
    expect(blobFiles()).toEqual([]);
    expect(tmpFiles()).toEqual([]);
    await expect(store.putBlobBytes(Buffer.from('x'), { digest: expected })).rejects.toMatchObject({ code: 'E_DIGEST_MISMATCH' });
  });

  it('rejects a size mismatch, stopping an overlong stream early', async () => {
    const data = Buffer.from('0123456789');
    await expect(store.putBlob(Readable.from([data]), { digest: sha256Of(data), size: 5 })).rejects.toMatchObject({ code: 'E_DIGEST_MISMATCH' });
    await expect(store.putBlob(Readable.from([data]), { size: 11 })).rejects.toMatchObject({ code: 'E_DIGEST_MISMATCH' });
    expect(blobFiles()).toEqual([]);
    expect(tmpFiles()).toEqual([]);
  });

  it('detects a blob that rotted on disk, when streamed and when read whole', async () => {
    const { digest } = await store.putBlobBytes(Buffer.from('{"a":1}'));
    writeFileSync(join(dir, 'root/blobs/sha256', digest.slice(7)), '{"a":2}');
    await expect(drain(await store.openBlob(digest))).rejects.toMatchObject({ code: 'E_DIGEST_MISMATCH' });
    await expect(store.readBlob(digest)).rejects.toMatchObject({ code: 'E_DIGEST_MISMATCH' });
    await expect(store.readJson(digest)).rejects.toMatchObject({ code: 'E_DIGEST_MISMATCH' });
    await expect(store.openBlob(digest, 99)).rejects.toMatchObject({ code: 'E_DIGEST_MISMATCH' });
  });

  it('reports missing blobs and bad digests with codes', async () => {
    const d = sha256Of(Buffer.from('absent'));
    expect(await store.hasBlob(d)).toBe(false);
    expect(await store.statBlob(d)).toBeUndefined();
    await expect(store.openBlob(d)).rejects.toMatchObject({ code: 'E_BLOB_NOT_FOUND' });
    await expect(store.readBlob(d)).rejects.toMatchObject({ code: 'E_BLOB_NOT_FOUND' });
    await expect(store.hasBlob('sha256:../../etc/passwd')).rejects.toMatchObject({ code: 'E_BAD_DIGEST' });
    await store.deleteBlob(d); // idempotent
  });

  it('readJson refuses content that is not JSON', async () => {
    const { digest } = await store.putBlobBytes(Buffer.from('not json'));
    await expect(store.readJson(digest)).rejects.toMatchObject({ code: 'E_STORE_CORRUPT' });
  });

  it('cleans temp files of dead writers on open, and keeps those of live ones', async () => {
    writeFileSync(join(dir, 'root/tmp', 'blob-999999999-deadbeef'), 'garbage');
    writeFileSync(join(dir, 'root/tmp', `blob-${process.pid}-alive`), 'in progress');
    const again = await openStore(join(dir, 'root'));
    expect(tmpFiles()).toEqual([`blob-${process.pid}-alive`]);
    await again.close();
  });

  describe('blob writer (a download written in place)', () => {
    const data = Buffer.from('the bytes of a layer, arriving in pieces');
    const expected = { digest: sha256Of(data), size: data.length };

    it('keeps a partial file as a prefix: replays it, continues after it, and renames it into place', async () => {
      const partial = join(dir, 'partial');
      writeFileSync(partial, data.subarray(0, 10));
      const inode = statSync(partial).ino;
      const w = await store.openBlobWriter(partial, expected);
      expect(w.resumeOffset).toBe(10);
      const replayed: Buffer[] = [];
      for await (const c of w.replay()) replayed.push(c);
      expect(Buffer.concat(replayed).equals(data.subarray(0, 10))).toBe(true);
      await w.write(data.subarray(10));
      expect(await w.commit()).toEqual(expected);
      expect(existsSync(partial)).toBe(false);
      expect(statSync(join(dir, 'root/blobs/sha256', expected.digest.slice(7))).ino).toBe(inode);
      expect(await store.readBlob(expected.digest)).toEqual(data);
    });

    it('starts over when the partial file is longer than the blob can be', async () => {
      const partial = join(dir, 'partial');
      writeFileSync(partial, Buffer.concat([data, data]));
      const w = await store.openBlobWriter(partial, expected);
      expect(w.resumeOffset).toBe(0);
      await w.write(data);
      expect(await w.commit()).toEqual(expected);
    });

    it('deletes the file on a digest mismatch, and stops an overlong stream at once', async () => {
      const partial = join(dir, 'partial');
      const w = await store.openBlobWriter(partial, expected);
      await w.write(Buffer.from('other bytes of the very same length, hmmm!').subarray(0, data.length));
      await expect(w.commit()).rejects.toMatchObject({ code: 'E_DIGEST_MISMATCH', message: expect.stringContaining(expected.digest) });
      expect(existsSync(partial)).toBe(false);
      expect(blobFiles()).toEqual([]);
      const long = await store.openBlobWriter(partial, expected);
      await expect(long.write(Buffer.concat([data, Buffer.from('!')]))).rejects.toMatchObject({ code: 'E_DIGEST_MISMATCH' });
      await long.abort(false);
      expect(existsSync(partial)).toBe(false);
    });
  });
});
