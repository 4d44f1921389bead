// Layers without root: a plain layer (files, dirs, symlinks, hard links)
// unpacks as any user, and a build's directory is adopted as a layer by
// rename, idempotently.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as tar from 'tar-stream';
import { openStore, type Store } from '../../../src/store/index.js';
import { sha256Of } from '../../../src/store/digest.js';

let dir: string;
let store: Store;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsbuild-unit-layers-'));
  store = await openStore(join(dir, 'root'));
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function tarOf(entries: (Partial<tar.Header> & { name: string; data?: string })[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => { for await (const c of pack) chunks.push(c as Buffer); })();
  for (const { data, ...h } of entries) {
    await new Promise<void>((res, rej) => pack.entry({ ...h, size: data?.length ?? 0 }, data ?? '', (e) => (e ? rej(e) : res())));
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

describe('layers', () => {
  it('unpacks a plain layer as any user', async () => {
    const t = await tarOf([
      { name: 'd/', type: 'directory', mode: 0o750, mtime: new Date(1_000_000_000) },
      { name: 'd/f', data: 'hello', mode: 0o640 },
      { name: 'l', type: 'symlink', linkname: '/d/f' },
      { name: 'h', type: 'link', linkname: 'd/f' },
    ]);
    const blob = gzipSync(t);
    const { digest } = await store.putBlobBytes(blob);
    const out = await store.ensureLayerUnpacked(sha256Of(t), digest, 'application/vnd.oci.image.layer.v1.tar+gzip');
    expect(readFileSync(join(out, 'd/f'), 'utf8')).toBe('hello');
    expect(statSync(join(out, 'd/f')).mode & 0o777).toBe(0o640);
    expect(statSync(join(out, 'd')).mode & 0o777).toBe(0o750);
    expect(statSync(join(out, 'd')).mtimeMs).toBe(1_000_000_000);
    expect(readlinkSync(join(out, 'l'))).toBe('/d/f');
    expect(statSync(join(out, 'h')).ino).toBe(statSync(join(out, 'd/f')).ino);
    expect(await store.layerDir(sha256Of(t))).toBe(out);
    // idempotent
    expect(await store.ensureLayerUnpacked(sha256Of(t), digest, 'application/vnd.oci.image.layer.v1.tar+gzip')).toBe(out);
  });

  it('adopts a directory as a layer by rename, and drops a second copy', async () => {
    const build = join(dir, 'root/tmp-build');
    mkdirSync(build);
    writeFileSync(join(build, 'file'), 'made by a step');
    const diffId = sha256Of(Buffer.from('pretend diff'));
    const blob = await store.putBlobBytes(Buffer.from('pretend blob'));
    const out = await store.adoptLayerDir(diffId, blob.digest, 'application/vnd.oci.image.layer.v1.tar+gzip', build, 14);
    expect(readFileSync(join(out, 'file'), 'utf8')).toBe('made by a step');
    expect(existsSync(build)).toBe(false);
    // The second copy (a big tree, as a --no-cache rebuild makes) is gone from the caller's view at
    // once and deleted in the background; close() waits for it, leaving nothing in tmp/.
    mkdirSync(join(build, 'sub'), { recursive: true });
    for (let i = 0; i < 200; i++) writeFileSync(join(build, 'sub', `f${i}`), 'x');
    expect(await store.adoptLayerDir(diffId, blob.digest, 'x', build, 14)).toBe(out);
    expect(existsSync(build)).toBe(false);
    await store.close();
    expect(readdirSync(join(dir, 'root/tmp'))).toEqual([]);
    expect(readFileSync(join(out, 'file'), 'utf8')).toBe('made by a step');
  });

  describe('unpacking while the blob arrives (a pull)', () => {
    const GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
    /** A source that stores the blob and feeds the sink in `piece`-byte chunks, as a download does. */
    const sourceOf = (blob: Buffer, piece: number, failAfter?: number) => ({
      calls: 0,
      async fetch(sink: { write(c: Buffer): Promise<void> | void }) {
        this.calls++;
        for (let off = 0; off < blob.length; off += piece) {
          if (failAfter !== undefined && off >= failAfter) throw new Error('connection reset');
          await sink.write(blob.subarray(off, off + piece));
        }
        await store.putBlobBytes(blob);
      },
    });
    const tmpEntries = (): string[] => readdirSync(join(dir, 'root/tmp'));

    it('unpacks from the bytes as they come, in small pieces, and records the sniffed compression', async () => {
      const big = 'x'.repeat(3 << 20); // several 1 MiB pieces for the decompressor
      const t = await tarOf([{ name: 'a/big', data: big }, { name: 'a/small', data: 'hi' }]);
      const blob = gzipSync(t);
      const src = sourceOf(blob, 1000);
      const out = await store.ensureLayerUnpacked(sha256Of(t), sha256Of(blob), 'application/octet-stream', src);
      expect(src.calls).toBe(1);
      expect(readFileSync(join(out, 'a/big'), 'utf8')).toBe(big);
      expect(readFileSync(join(out, 'a/small'), 'utf8')).toBe('hi');
      expect(JSON.parse(readFileSync(join(out, '../layer.json'), 'utf8'))).toMatchObject({ compression: 'gzip', size: t.length });
      expect(await store.hasBlob(sha256Of(blob))).toBe(true);
      // The layer exists now: a second caller neither fetches nor unpacks.
      const again = sourceOf(blob, 1000);
      expect(await store.ensureLayerUnpacked(sha256Of(t), sha256Of(blob), GZIP, again)).toBe(out);
      expect(again.calls).toBe(0);
    });

    it('takes an uncompressed tar too, even from pieces shorter than the magic bytes', async () => {
      const t = await tarOf([{ name: 'f', data: 'plain' }]);
      const out = await store.ensureLayerUnpacked(sha256Of(t), sha256Of(t), GZIP, sourceOf(t, 3));
      expect(readFileSync(join(out, 'f'), 'utf8')).toBe('plain');
      expect(JSON.parse(readFileSync(join(out, '../layer.json'), 'utf8')).compression).toBe('none');
    });

    it('publishes nothing when the content is not the diffID, and cleans up', async () => {
      const t = await tarOf([{ name: 'f', data: 'one thing' }]);
      const claimed = sha256Of(Buffer.from('another thing'));
      await expect(store.ensureLayerUnpacked(claimed, sha256Of(gzipSync(t)), GZIP, sourceOf(gzipSync(t), 512)))
        .rejects.toMatchObject({ code: 'E_DIGEST_MISMATCH', message: expect.stringContaining(claimed) });
      expect(await store.layerDir(claimed)).toBeUndefined();
      expect(tmpEntries()).toEqual([]);
    });

    it('stops the unpack when the download fails, leaving no layer', async () => {
      const t = await tarOf([{ name: 'f', data: randomBytes(100_000).toString('hex') }]);
      const blob = gzipSync(t);
      await expect(store.ensureLayerUnpacked(sha256Of(t), sha256Of(blob), GZIP, sourceOf(blob, 1000, blob.length >> 1))).rejects.toThrow('connection reset');
      expect(await store.layerDir(sha256Of(t))).toBeUndefined();
      expect(tmpEntries()).toEqual([]);
    });

    it('fails a layer that is not a tar with a located error, leaving no layer', async () => {
      const junk = gzipSync(Buffer.from('this is not a tar archive, not even close'.repeat(40)));
      const diffId = sha256Of(Buffer.from('whatever'));
      const err = await store.ensureLayerUnpacked(diffId, sha256Of(junk), GZIP, sourceOf(junk, 64)).catch((e: unknown) => e);
      expect(err).toMatchObject({ message: expect.stringContaining(`layer ${sha256Of(junk)}`) });
      expect(await store.layerDir(diffId)).toBeUndefined();
      expect(tmpEntries()).toEqual([]);
    });
  });
});
