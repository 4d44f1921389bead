// Lazy layer records without root: a layer the store knows only by its
// record (digest, diffID, where to get it) is fetched from a local OCI
// layout on first use, unpacked with its diffID checked, and the record goes
// only then; a record that lies about the diffID keeps failing (the blob
// never counts as verified); a missing source or fetcher is one clear error.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as tar from 'tar-stream';
import { openStore, type Store } from '../../../src/store/index.js';
import { sha256Of } from '../../../src/store/digest.js';
import { readLazyBlob, setLazyFetcher, writeLazyBlob, type LazyBlob } from '../../../src/store/lazy-blobs.js';
import { fetchLazy } from '../../../src/registry/lazy-fetch.js';

let dir: string;
let store: Store;
let layout: string;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsbuild-unit-lazy-'));
  store = await openStore(join(dir, 'root'));
  layout = join(dir, 'layout');
  mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
  setLazyFetcher(fetchLazy);
});
afterEach(async () => {
  setLazyFetcher(undefined);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function layer(): Promise<{ blob: Buffer; diffId: string; digest: string }> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => { for await (const c of pack) chunks.push(c as Buffer); })();
  await new Promise<void>((res, rej) => pack.entry({ name: 'hello.txt', size: 3 }, 'hi\n', (e) => (e ? rej(e) : res())));
  pack.finalize();
  await done;
  const raw = Buffer.concat(chunks);
  const blob = gzipSync(raw);
  return { blob, diffId: sha256Of(raw), digest: sha256Of(blob) };
}

async function inLayout(): Promise<LazyBlob> {
  const l = await layer();
  writeFileSync(join(layout, 'blobs', 'sha256', l.digest.slice(7)), l.blob);
  return { digest: l.digest, diffId: l.diffId, size: l.blob.length, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', source: { kind: 'local', dir: layout } };
}

describe('lazy layer records', () => {
  it('a record is whole or absent: garbage or a wrong digest counts as no record', async () => {
    const b = await inLayout();
    writeLazyBlob(store.root, b);
    expect(readLazyBlob(store.root, b.digest)).toEqual(b);
    writeFileSync(join(store.root, 'lazy', `${b.digest.slice(7)}.json`), '{"digest":');
    expect(readLazyBlob(store.root, b.digest)).toBeUndefined();
    writeFileSync(join(store.root, 'lazy', `${b.digest.slice(7)}.json`), JSON.stringify({ ...b, digest: `sha256:${'0'.repeat(64)}` }));
    expect(readLazyBlob(store.root, b.digest)).toBeUndefined();
  });

  it('is fetched and unpacked on first use; the record goes once the diffID checked out', async () => {
    const b = await inLayout();
    writeLazyBlob(store.root, b);
    expect(await store.hasBlob(b.digest)).toBe(false);
    const dirOf = await store.ensureLayerUnpacked(b.diffId, b.digest, b.mediaType);
    expect(readdirSync(dirOf)).toEqual(['hello.txt']);
    expect(await store.hasBlob(b.digest)).toBe(true);
    expect(readLazyBlob(store.root, b.digest)).toBeUndefined();
    expect((await store.readBlob(b.digest)).length).toBe(b.size);
  });

  it('openBlob (save, push) checks the diffID too: a lying record fails every time, and leaves no temp files', async () => {
    const b = await inLayout();
    writeLazyBlob(store.root, { ...b, diffId: `sha256:${'0'.repeat(64)}` });
    for (let i = 0; i < 2; i++) await expect(store.openBlob(b.digest)).rejects.toMatchObject({ code: 'E_DIGEST_MISMATCH' });
    expect(readLazyBlob(store.root, b.digest)).toBeDefined();
    expect(readdirSync(join(store.root, 'tmp'))).toEqual([]);
  });

  it('a source that is gone, or no fetcher, is one clear line', async () => {
    const b = await inLayout();
    writeLazyBlob(store.root, b);
    rmSync(layout, { recursive: true, force: true });
    const err = await store.ensureLayerUnpacked(b.diffId, b.digest, b.mediaType).catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'E_LAZY_SOURCE' });
    expect((err as Error).message).toMatch(new RegExp(`^layer ${b.digest} is not in the store and its source local:${layout} cannot give it: `));
    expect((err as Error).message).not.toContain('\n');
    setLazyFetcher(undefined);
    await expect(store.openBlob(b.digest)).rejects.toMatchObject({ code: 'E_LAZY_SOURCE', message: expect.stringMatching(/nothing here can fetch it/) });
    expect(readdirSync(join(store.root, 'tmp'))).toEqual([]);
  });

  it('prune drops the records of blobs no image names', async () => {
    const b = await inLayout();
    writeLazyBlob(store.root, b);
    await store.prune();
    expect(readLazyBlob(store.root, b.digest)).toBeUndefined();
  });
});
