// Built layers without their blobs, no root needed: writeLayer(adopt) keeps
// only the directory; the store serves its tar made again (checked against
// the diffID), makes a gzip blob only when asked, remembers it, makes the
// same bytes again after the blob is gone, and refuses a directory someone
// changed; streamed while it compresses (a push uploading it), it gives
// the same bytes and record, and a reader that goes away leaves nothing.
// The parallel gzip is a function of the tar bytes alone.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../../src/store/index.js';
import { ParallelGzip } from '../../../src/store/codec/layer-gzip.js';
import { distributableManifest } from '../../../src/store/distributable.js';
import { writeLayer } from '../../../src/image/layer-writer.js';
import { MediaType, type ImageManifest } from '../../../src/image/oci.js';

let dir: string;
let store: Store;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsbuild-unit-lazyzip-'));
  store = await openStore(join(dir, 'root'));
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const blobFiles = (): string[] => readdirSync(join(dir, 'root/blobs/sha256'));
const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function drain(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Bytes that do not compress, the same on every call (a hash chain). */
function noise(n: number): Buffer {
  const out = Buffer.alloc(n);
  let h = createHash('sha256').update('seed').digest();
  for (let off = 0; off < n; off += h.length) {
    h.copy(out, off);
    h = createHash('sha256').update(h).digest();
  }
  return out;
}

/** A step's output dir: text that compresses, random bytes that don't, a dir, a link, and the init files to exclude. */
function makeUpper(name: string): string {
  const up = join(dir, name);
  mkdirSync(join(up, 'app', 'sub'), { recursive: true });
  mkdirSync(join(up, 'etc'));
  writeFileSync(join(up, 'app', 'text.txt'), 'tsbuild layer text\n'.repeat(200_000));
  writeFileSync(join(up, 'app', 'sub', 'random.bin'), noise(3 << 20));
  writeFileSync(join(up, 'etc', 'hosts'), '127.0.0.1 localhost\n');
  writeFileSync(join(up, 'etc', 'app.conf'), 'k=v\n');
  for (const p of ['app/text.txt', 'app/sub/random.bin', 'app/sub', 'app', 'etc/hosts', 'etc/app.conf', 'etc']) utimesSync(join(up, p), 1_600_000_000, 1_600_000_000);
  return up;
}

describe('a built layer', () => {
  it('is kept unpacked only: no blob until one is asked for, yet its tar can be read, verified', async () => {
    const layer = await writeLayer(store, makeUpper('up'), { adopt: true, exclude: new Set(['etc/hosts']) });
    if (!layer) throw new Error('no layer');
    expect(layer.digest).toBe(layer.diffId);
    expect(layer.mediaType).toBe(MediaType.ociLayer);
    expect(blobFiles()).toEqual([]);
    expect(await store.isBuiltLayer(layer.diffId)).toBe(true);
    expect(await store.statBlob(layer.diffId)).toEqual({ digest: layer.diffId, size: layer.size });
    // Made again from the directory (after etc/hosts was removed from it): the tar hashed at build time.
    const tar = await drain(await store.openBlob(layer.diffId, layer.size));
    expect(sha(tar)).toBe(layer.diffId);
    expect(tar.includes(Buffer.from('etc/hosts'))).toBe(false);
  });

  it('gets one gzip blob on demand, remembered, and the same bytes again once it was deleted', async () => {
    const layer = await writeLayer(store, makeUpper('up'), { adopt: true });
    if (!layer) throw new Error('no layer');
    expect(await store.recordedLayerBlob(layer.diffId)).toBeUndefined();
    const blob = await store.compressedLayerBlob(layer.diffId);
    expect(blob.mediaType).toBe(MediaType.ociLayerGzip);
    expect(blobFiles()).toEqual([blob.digest.slice(7)]);
    const bytes = await drain(await store.openBlob(blob.digest, blob.size));
    expect(sha(gunzipSync(bytes))).toBe(layer.diffId);
    expect(blob.size).toBeLessThan(layer.size);
    expect(await store.recordedLayerBlob(layer.diffId)).toEqual(blob);
    const record = JSON.parse(readFileSync(join(dir, 'root/layers', layer.diffId.slice(7), 'blobs.json'), 'utf8')) as Record<string, unknown>;
    expect(Object.values(record)).toEqual([blob]);

    await store.deleteBlob(blob.digest);
    expect(await store.compressedLayerBlob(layer.diffId)).toEqual(blob);
    expect(blobFiles()).toEqual([blob.digest.slice(7)]);
  });

  it('is the same blob when built in another store from the same files', async () => {
    const a = await writeLayer(store, makeUpper('up-a'), { adopt: true });
    const other = await openStore(join(dir, 'root2'));
    try {
      // Same content, written at another time: mtimes are set to the same seconds by makeUpper.
      const b = await writeLayer(other, makeUpper('up-b'), { adopt: true });
      expect(b?.diffId).toBe(a?.diffId);
      expect(await other.compressedLayerBlob(b?.diffId as string)).toEqual(await store.compressedLayerBlob(a?.diffId as string));
    } finally {
      await other.close();
    }
  });

  it('refuses a directory changed after the build: E_DIGEST_MISMATCH, and no blob is left', async () => {
    const layer = await writeLayer(store, makeUpper('up'), { adopt: true });
    if (!layer) throw new Error('no layer');
    const file = join(dir, 'root/layers', layer.diffId.slice(7), 'diff/app/text.txt');
    writeFileSync(file, 'changed\n');
    utimesSync(file, 1_600_000_000, 1_600_000_000);
    await expect(store.compressedLayerBlob(layer.diffId)).rejects.toMatchObject({ code: 'E_DIGEST_MISMATCH' });
    expect(blobFiles()).toEqual([]);
    expect(readdirSync(join(dir, 'root/tmp'))).toEqual([]);
    expect(await store.recordedLayerBlob(layer.diffId)).toBeUndefined();
  });

  it('leaves the local manifest for one that names its gzip blob; a manifest without built layers stays byte for byte', async () => {
    const layer = await writeLayer(store, makeUpper('up'), { adopt: true });
    if (!layer) throw new Error('no layer');
    const config = await store.putBlobBytes(Buffer.from('{}'));
    const manifest: ImageManifest = {
      schemaVersion: 2, mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: config.digest, size: config.size },
      layers: [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }],
    };
    const bytes = Buffer.from(JSON.stringify(manifest));
    const out = await distributableManifest(store, bytes, manifest);
    const blob = await store.compressedLayerBlob(layer.diffId);
    expect(out.converted).toBe(true);
    expect(out.manifest.layers).toEqual([{ mediaType: MediaType.ociLayerGzip, digest: blob.digest, size: blob.size }]);
    expect(Object.keys(JSON.parse(out.bytes.toString()) as object)).toEqual(['schemaVersion', 'mediaType', 'config', 'layers']);
    expect((await distributableManifest(store, bytes, manifest)).digest).toBe(out.digest);
    const pulled = { ...manifest, layers: [{ mediaType: MediaType.ociLayerGzip, digest: blob.digest, size: blob.size }] };
    const pulledBytes = Buffer.from(JSON.stringify(pulled, null, 3));
    const same = await distributableManifest(store, pulledBytes, pulled);
    expect(same.converted).toBe(false);
    expect(same.bytes).toBe(pulledBytes);
  });
});

describe('ParallelGzip', () => {
  async function gz(input: Buffer, pieces: number[], choice = { level: 6, blockSize: 1 << 16 }): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let off = 0;
    for (let i = 0; off < input.length; i++) {
      const n = pieces[i % pieces.length] as number;
      chunks.push(input.subarray(off, off + n));
      off += n;
    }
    return drain(Readable.from(chunks).pipe(new ParallelGzip(choice, 3)));
  }

  it('gives the same bytes however the input is chunked, and gunzips to the input', async () => {
    const input = Buffer.concat([Buffer.from('abc '.repeat(100_000)), randomBytes(200_000), Buffer.from('xyz\n'.repeat(50_000))]);
    const a = await gz(input, [1 << 20]);
    const b = await gz(input, [1, 511, 4096, 70_000, 13]);
    expect(b.equals(a)).toBe(true);
    expect(gunzipSync(a).equals(input)).toBe(true);
    // A member per 64 KiB block: each starts with the gzip magic and mtime 0.
    expect(a.subarray(0, 8).equals(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]))).toBe(true);
  });

  it('follows the level: level 6 is smaller than level 1 on text', async () => {
    const text = Buffer.from(Array.from({ length: 40_000 }, (_, i) => `line ${i} of some log text ${i % 97}\n`).join(''));
    const l1 = await gz(text, [1 << 20], { level: 1, blockSize: 4 << 20 });
    const l6 = await gz(text, [1 << 20], { level: 6, blockSize: 4 << 20 });
    expect(l6.length).toBeLessThan(l1.length);
    expect(gunzipSync(l6).equals(text)).toBe(true);
  });

  it('a block that does not compress is stored, so random data grows by headers only', async () => {
    const rnd = randomBytes(1 << 20);
    const out = await gz(rnd, [1 << 20], { level: 6, blockSize: 1 << 18 });
    expect(out.length).toBeLessThan(rnd.length + 4 * 1024);
    expect(existsSync(dir)).toBe(true);
  });
});

describe('a built layer streamed while it compresses (a push uploading it)', () => {
  it('gives the bytes compressedLayerBlob gives, puts the blob in the CAS and records it; a second caller shares the one compression', async () => {
    const layer = await writeLayer(store, makeUpper('up'), { adopt: true });
    if (!layer) throw new Error('no layer');
    const first = await store.streamLayerBlob(layer.diffId);
    if (!('body' in first)) throw new Error('expected a stream');
    // Asked again while the first is being made: no second stream, the same blob.
    const second = store.streamLayerBlob(layer.diffId);
    const bytes = await drain(first.body);
    const blob = await first.blob;
    expect(sha(bytes)).toBe(blob.digest);
    expect(bytes.length).toBe(blob.size);
    expect(await second).toEqual(blob);
    expect(blobFiles()).toEqual([blob.digest.slice(7)]);
    expect(await store.recordedLayerBlob(layer.diffId)).toEqual(blob);
    // Deterministic: the same bytes as a compression to the CAS gives.
    rmSync(join(dir, 'root/blobs/sha256', blob.digest.slice(7)));
    expect(await store.compressedLayerBlob(layer.diffId)).toEqual(blob);
    // In the CAS now: nothing to stream.
    expect(await store.streamLayerBlob(layer.diffId)).toEqual(blob);
  });

  it('a reader that goes away mid-stream leaves no blob, temp file or record', async () => {
    // Far more than the stream buffers on the way (the compressor's blocks in flight, the body's MiB).
    const up = makeUpper('up');
    writeFileSync(join(up, 'app', 'big.bin'), randomBytes(32 << 20));
    utimesSync(join(up, 'app', 'big.bin'), 1_600_000_000, 1_600_000_000);
    utimesSync(join(up, 'app'), 1_600_000_000, 1_600_000_000);
    const layer = await writeLayer(store, up, { adopt: true });
    if (!layer) throw new Error('no layer');
    const s = await store.streamLayerBlob(layer.diffId);
    if (!('body' in s)) throw new Error('expected a stream');
    for await (const _ of s.body) break; // one chunk, then the upload "fails"
    await expect(s.blob).rejects.toThrow();
    expect(blobFiles()).toEqual([]);
    expect(readdirSync(join(dir, 'root/tmp')).filter((f) => f.startsWith('blob'))).toEqual([]);
    expect(await store.recordedLayerBlob(layer.diffId)).toBeUndefined();
  }, 60_000);
});
