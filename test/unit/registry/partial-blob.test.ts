// Resumable blob downloads: Range resume after a reset, servers that ignore
// Range, resuming a partial file left by a killed process, and corrupt data.
// The store here is the real blob CAS under a temp dir (no root needed).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RegistryClient } from '../../../src/registry/http.js';
import { fetchBlob, partialDir } from '../../../src/registry/partial-blob.js';
import { silentProgress } from '../../../src/registry/progress.js';
import { BlobStore } from '../../../src/store/blobs.js';
import type { Store } from '../../../src/store/index.js';

const blob = randomBytes(300_000);
const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
const desc = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest, size: blob.length };

let root: string;
let server: Server | undefined;

/** The store's own blob CAS (no root needed) behind the few Store methods fetchBlob uses. */
function storeAt(dir: string): Store {
  const blobs = new BlobStore(dir, join(dir, 'tmp'));
  mkdirSync(blobs.dir, { recursive: true });
  const s: Partial<Store> = {
    root: dir,
    async hasBlob(d: string) { return (await blobs.stat(d)) !== undefined; },
    openBlobWriter: (path, expected) => blobs.writer(path, expected),
    openBlob: (d, size) => blobs.open(d, size),
  };
  return s as Store;
}

const fakeStore = (): Store => storeAt(root);
/** What the store holds under `d`, or undefined. */
const stored = (d: string): Buffer | undefined => {
  const path = join(root, 'blobs/sha256', d.slice(7));
  return existsSync(path) ? readFileSync(path) : undefined;
};
const storedCount = (): number => readdirSync(join(root, 'blobs/sha256')).length;

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ client: RegistryClient; ranges: Array<string | undefined> }> {
  const ranges: Array<string | undefined> = [];
  server = createServer((req, res) => {
    if (req.url === '/v2/') { res.writeHead(200); res.end(); return; }
    ranges.push(req.headers.range);
    handler(req, res);
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const client = new RegistryClient(`127.0.0.1:${(server.address() as AddressInfo).port}`, { baseDelayMs: 1, credentials: null });
  return { client, ranges };
}

/** Serve the blob honouring `Range: bytes=N-` with 206. */
function sendRange(req: IncomingMessage, res: ServerResponse, body: Buffer = blob): void {
  const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  if (!m) { res.writeHead(200, { 'Content-Length': body.length }); res.end(body); return; }
  const start = Number(m[1]);
  res.writeHead(206, { 'Content-Length': body.length - start, 'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}` });
  res.end(body.subarray(start));
}

/** Send the first `n` bytes, then break the connection. */
function sendThenReset(res: ServerResponse, n: number): void {
  res.writeHead(200, { 'Content-Length': blob.length });
  res.write(blob.subarray(0, n), () => setTimeout(() => res.socket?.destroy(), 20));
}

beforeEach(() => { root = mkdtempSync(join(tmpdir(), 'tsbuild-partial-')); });
afterEach(async () => {
  if (server) await new Promise((r) => { server!.closeAllConnections(); server!.close(r); });
  server = undefined;
  rmSync(root, { recursive: true, force: true });
});

const src = (client: RegistryClient) => ({ client, repository: 'a/b', name: 'reg/a/b' });
const opts = { progress: silentProgress, baseDelayMs: 1 };

describe('fetchBlob', () => {
  it('resumes with a Range request after a connection reset', async () => {
    let first = true;
    const { client, ranges } = await serve((req, res) => {
      if (first) { first = false; sendThenReset(res, 100_000); return; }
      sendRange(req, res);
    });
    await fetchBlob(fakeStore(), src(client), desc, opts);
    expect(stored(digest)?.equals(blob)).toBe(true);
    expect(ranges[0]).toBeUndefined();
    expect(ranges[1]).toMatch(/^bytes=\d+-$/);
    expect(Number(ranges[1]?.slice(6, -1))).toBeGreaterThan(0);
    expect(readdirSync(partialDir(fakeStore()))).toEqual([]);
    client.close();
  });

  it('copes with a server that ignores Range', async () => {
    let first = true;
    const { client, ranges } = await serve((_req, res) => {
      if (first) { first = false; sendThenReset(res, 150_000); return; }
      res.writeHead(200, { 'Content-Length': blob.length }); res.end(blob);
    });
    await fetchBlob(fakeStore(), src(client), desc, opts);
    expect(stored(digest)?.equals(blob)).toBe(true);
    expect(ranges).toHaveLength(2);
    client.close();
  });

  it('continues a partial file left by a killed process, asking only for the rest', async () => {
    const { client, ranges } = await serve((req, res) => sendRange(req, res));
    const dir = partialDir(fakeStore());
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, digest.slice(7)), blob.subarray(0, 123_456));
    writeFileSync(join(dir, `${digest.slice(7)}.lock`), '999999999'); // a dead pid
    await fetchBlob(fakeStore(), src(client), desc, opts);
    expect(ranges).toEqual(['bytes=123456-']);
    expect(stored(digest)?.equals(blob)).toBe(true);
    expect(readdirSync(dir)).toEqual([]);
    client.close();
  });

  it('starts over once when a resumed partial file turns out corrupt', async () => {
    const { client, ranges } = await serve((req, res) => sendRange(req, res));
    const dir = partialDir(fakeStore());
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, digest.slice(7)), randomBytes(1000));
    await fetchBlob(fakeStore(), src(client), desc, opts);
    expect(ranges).toEqual(['bytes=1000-', undefined]);
    expect(stored(digest)?.equals(blob)).toBe(true);
    expect(existsSync(join(dir, digest.slice(7)))).toBe(false);
    client.close();
  });

  it('fails on the digest when the registry serves other bytes or a short blob', async () => {
    const bad = Buffer.from(blob);
    bad[5] = (bad[5] ?? 0) ^ 0xff;
    let short = false;
    const { client } = await serve((req, res) => (short ? sendRange(req, res, blob.subarray(0, 1000)) : sendRange(req, res, bad)));
    await expect(fetchBlob(fakeStore(), src(client), desc, opts)).rejects.toMatchObject({ code: 'E_DIGEST_MISMATCH', message: expect.stringContaining(digest) });
    short = true;
    await expect(fetchBlob(fakeStore(), src(client), desc, opts)).rejects.toMatchObject({ code: 'E_DIGEST_MISMATCH', message: expect.stringContaining(digest) });
    expect(storedCount()).toBe(0);
    expect(readdirSync(partialDir(fakeStore()))).toEqual([]);
    client.close();
  });

  it('skips blobs the store has, and shares one transfer between concurrent callers', async () => {
    const { client, ranges } = await serve((req, res) => setTimeout(() => sendRange(req, res), 50));
    const store = fakeStore();
    await Promise.all([fetchBlob(store, src(client), desc, opts), fetchBlob(store, src(client), desc, opts)]);
    await fetchBlob(store, src(client), desc, opts);
    expect(ranges).toHaveLength(1);
    client.close();
  });

  it('feeds the sink every byte in order, a resumed prefix included, and writes the blob once', async () => {
    const { client, ranges } = await serve((req, res) => sendRange(req, res));
    const dir = partialDir(fakeStore());
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, digest.slice(7)), blob.subarray(0, 77_777));
    const partialInode = statSync(join(dir, digest.slice(7))).ino;
    const seen: Buffer[] = [];
    await fetchBlob(fakeStore(), src(client), desc, { ...opts, sink: { write: (c) => { seen.push(Buffer.from(c)); } } });
    expect(Buffer.concat(seen).equals(blob)).toBe(true);
    expect(ranges).toEqual(['bytes=77777-']);
    expect(stored(digest)?.equals(blob)).toBe(true);
    // The partial file became the blob (renamed, not copied).
    expect(statSync(join(root, 'blobs/sha256', digest.slice(7))).ino).toBe(partialInode);
    expect(readdirSync(dir)).toEqual([]);
    client.close();
  });

  it('gives a second caller\'s sink the bytes from the store once the shared transfer is done', async () => {
    const { client, ranges } = await serve((req, res) => setTimeout(() => sendRange(req, res), 50));
    const store = fakeStore();
    const a: Buffer[] = [];
    const b: Buffer[] = [];
    await Promise.all([
      fetchBlob(store, src(client), desc, { ...opts, sink: { write: (c) => { a.push(Buffer.from(c)); } } }),
      fetchBlob(store, src(client), desc, { ...opts, sink: { write: (c) => { b.push(Buffer.from(c)); } } }),
    ]);
    expect(ranges).toHaveLength(1);
    expect(Buffer.concat(a).equals(blob)).toBe(true);
    expect(Buffer.concat(b).equals(blob)).toBe(true);
    client.close();
  });

  it('stops the download when the sink fails, and keeps the partial file to resume', async () => {
    const { client } = await serve((req, res) => sendRange(req, res));
    let got = 0;
    const sink = { write: (c: Buffer) => { got += c.length; if (got > 50_000) throw new Error('unpack failed'); } };
    await expect(fetchBlob(fakeStore(), src(client), desc, { ...opts, sink })).rejects.toThrow('unpack failed');
    expect(stored(digest)).toBeUndefined();
    expect(existsSync(join(partialDir(fakeStore()), digest.slice(7)))).toBe(true);
    client.close();
  });
});
