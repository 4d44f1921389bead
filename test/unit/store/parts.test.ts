// Small pieces without root: path cleaning, compression magic, PAX xattr
// decoding, OCI annotation names, and the in-process side of the locks.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import { cleanTarPath } from '../../../src/store/codec/unpack.js';
import { detectCompression } from '../../../src/store/codec/compression.js';
import { decodePaxRecords, xattrsOf } from '../../../src/store/codec/pax.js';
import { namesFromAnnotations } from '../../../src/image/archive/load.js';
import { LockManager } from '../../../src/store/lock.js';
import { openArchive } from '../../../src/image/archive/source.js';
import { writeFileSync } from 'node:fs';

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

describe('store parts', () => {
  it('cleans tar paths so .. and / stay inside', () => {
    expect(cleanTarPath('../../etc/passwd')).toBe('etc/passwd');
    expect(cleanTarPath('/abs//x/./y/')).toBe('abs/x/y');
    expect(cleanTarPath('./')).toBe('');
    expect(cleanTarPath('a/../../b')).toBe('b');
  });

  it('detects compression from magic bytes', () => {
    expect(detectCompression(gzipSync(Buffer.from('x')))).toBe('gzip');
    expect(detectCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0]))).toBe('zstd');
    expect(detectCompression(Buffer.from('ustar'))).toBe('none');
    expect(detectCompression(Buffer.alloc(0))).toBe('none');
  });

  it('keeps binary xattr values byte-exact through PAX decoding', () => {
    const cap = Buffer.from([0x01, 0x00, 0x00, 0x02, 0xff, 0xfe, 0x80, 0x00]);
    const rec = decodePaxRecords(Buffer.concat([paxRecord('path', Buffer.from('dir/fïle')), paxRecord('SCHILY.xattr.security.capability', cap)]));
    expect(rec.path).toBe('dir/fïle');
    expect(xattrsOf(rec, true)).toEqual([{ name: 'security.capability', value: cap }]);
    expect(xattrsOf({ 'LIBARCHIVE.xattr.user.a%20b': Buffer.from('v').toString('base64') }, true)).toEqual([{ name: 'user.a b', value: Buffer.from('v') }]);
  });

  it('names OCI index entries from full references only', () => {
    expect(namesFromAnnotations({ 'io.containerd.image.name': 'docker.io/library/busybox:1', 'org.opencontainers.image.ref.name': '1' })).toEqual(['docker.io/library/busybox:1']);
    expect(namesFromAnnotations({ 'org.opencontainers.image.ref.name': 'localhost/app:2' })).toEqual(['localhost/app:2']);
    expect(namesFromAnnotations({ 'org.opencontainers.image.ref.name': 'latest' })).toEqual([]);
    expect(namesFromAnnotations(undefined)).toEqual([]);
  });

  it('locks: shared holders overlap, an exclusive one waits for them and excludes others', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsbuild-unit-lock-'));
    try {
      const locks = new LockManager(dir);
      const events: string[] = [];
      const r1 = await locks.acquire('gc', false);
      const r2 = await locks.acquire('gc', false);
      const ex = locks.acquire('gc', true).then((r) => { events.push('exclusive'); return r; });
      const late = locks.acquire('gc', false).then((r) => { events.push('late shared'); return r; });
      await new Promise((res) => setTimeout(res, 20));
      expect(events).toEqual([]);
      r1();
      r2();
      const rex = await ex;
      await new Promise((res) => setTimeout(res, 20));
      expect(events).toEqual(['exclusive']);
      rex();
      (await late)();
      expect(events).toEqual(['exclusive', 'late shared']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('archive paths from manifests cannot leave the archive', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsbuild-unit-archive-'));
    try {
      writeFileSync(join(dir, 'manifest.json'), '[]');
      const src = await openArchive(dir, dir, 'x');
      expect((await src.read('manifest.json')).toString()).toBe('[]');
      await expect(src.read('../../../etc/passwd')).rejects.toMatchObject({ code: 'E_BAD_ARCHIVE' });
      await expect(src.read('a/../../x')).rejects.toMatchObject({ code: 'E_BAD_ARCHIVE' });
      await expect(src.read('nope')).rejects.toMatchObject({ code: 'E_ARCHIVE_MISSING' });
      await src.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
