// The blob CAS without root: atomic, verified, idempotent puts; verified
// reads that fail on a rotten byte; nothing left behind by a mismatch.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
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
    await expect(store.hasBlob('sha256:../../etc/passwd')).rejects.toMatchObject({ code: 'E_INVALID_DIGEST' });
    await store.deleteBlob(d); // idempotent
  });

  it('readJson refuses content that is not JSON', async () => {
    const { digest } = await store.putBlobBytes(Buffer.from('not json'));
    await expect(store.readJson(digest)).rejects.toMatchObject({ code: 'E_CORRUPT_JSON' });
  });

  it('cleans temp files of dead writers on open, and keeps those of live ones', async () => {
    writeFileSync(join(dir, 'root/tmp', 'blob-999999999-deadbeef'), 'garbage');
    writeFileSync(join(dir, 'root/tmp', `blob-${process.pid}-alive`), 'in progress');
    const again = await openStore(join(dir, 'root'));
    expect(tmpFiles()).toEqual([`blob-${process.pid}-alive`]);
    await again.close();
  });
});
