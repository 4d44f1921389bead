// The tar encoder of the layer codec (src/store/codec/tar-pieces.ts) against
// tar-stream, which made every layer tar before it: the same entries must
// give the same bytes (or the diffIDs of layers built earlier change), and
// tar-stream's extractor must read them back as written.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, linkSync, writeFileSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import * as tar from 'tar-stream';
import { hashLayerTar, layerTar, scanLayerEntries, tarItems } from '../../../src/store/codec/layer-tar.js';
import { tarPieces, type TarItem } from '../../../src/store/codec/tar-pieces.js';
import { readFileSync } from 'node:fs';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tree(): string {
  const d = mkdtempSync(join(tmpdir(), 'tsbuild-tarpieces-'));
  dirs.push(d);
  const long = `${'a'.repeat(60)}/${'b'.repeat(60)}/${'c'.repeat(60)}`;
  mkdirSync(join(d, long), { recursive: true });
  writeFileSync(join(d, long, 'file.txt'), 'deep\n');
  writeFileSync(join(d, 'n'.repeat(120)), 'a name over 100 bytes with no slash\n');
  writeFileSync(join(d, 'café-ü.txt'), 'not ascii\n');
  writeFileSync(join(d, 'empty'), '');
  writeFileSync(join(d, 'mode0'), 'x', { mode: 0 });
  // Bigger than a piece, and not a multiple of 512: bodies cross piece boundaries.
  const big = Buffer.alloc((5 << 20) + 123);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7919) & 0xff;
  writeFileSync(join(d, 'big.bin'), big);
  writeFileSync(join(d, 'hard1'), 'linked\n');
  linkSync(join(d, 'hard1'), join(d, 'hard2'));
  symlinkSync('t'.repeat(150), join(d, 'longlink'));
  symlinkSync('ziel-ß', join(d, 'utflink'));
  symlinkSync('empty', join(d, 'shortlink'));
  utimesSync(join(d, 'empty'), 4102444800, 4102444800); // 2100: past int32 seconds
  return d;
}

/** The tar of `items` as tar-stream packs it. */
async function tarStreamBytes(items: TarItem[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise((resolve) => pack.on('end', resolve));
  for (const item of items) {
    const body = item.file !== undefined ? readFileSync(item.file) : Buffer.alloc(0);
    await new Promise<void>((resolve, reject) => pack.entry({ ...item.header }, body, (err) => (err ? reject(err) : resolve())));
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

describe('tarPieces', () => {
  it('gives tar-stream’s bytes for long, non-ASCII, linked, empty and large entries', async () => {
    const d = tree();
    const { entries } = scanLayerEntries(d);
    const items = [...tarItems(d, entries, undefined)];
    const ours = Buffer.concat([...tarPieces(items, 4 << 20, false)]);
    expect(ours.equals(await tarStreamBytes(items))).toBe(true);
  });

  it('gives the same bytes with PAX records, clamped times and devices', async () => {
    const mtime = new Date(1700000000 * 1000);
    const items: TarItem[] = [
      { header: { name: 'x', type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime, pax: { 'SCHILY.xattr.user.a': 'v\u00e9', 'SCHILY.xattr.security.capability': '\u0001\u0000\u0000\u0002' } } },
      { header: { name: 'x/dev', type: 'character-device', mode: 0o600, uid: 0, gid: 0, mtime, devmajor: 1, devminor: 3 } },
      { header: { name: 'x/blk', type: 'block-device', mode: 0o600, uid: 5, gid: 6, mtime, devmajor: 8, devminor: 1, pax: { 'SCHILY.xattr.user.b': 'w' } } },
      { header: { name: 'x/fifo', type: 'fifo', mode: 0o644, uid: 70000, gid: 3000000, mtime } },
      // A record of 98 bytes: with its length it is 101, so its length takes 3 digits.
      { header: { name: 'x/edge', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime, size: 0, pax: { 'SCHILY.xattr.user.d': 'q'.repeat(76) } } },
      { header: { name: 'x/l', type: 'symlink', mode: 0o777, uid: 0, gid: 0, mtime, linkname: 'y', pax: { 'SCHILY.xattr.user.c': 'z' } } },
      { header: { name: 'x/.wh.gone', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime, size: 0 } },
    ];
    const ours = Buffer.concat([...tarPieces(items, 4 << 20, false)]);
    expect(ours.equals(await tarStreamBytes(items))).toBe(true);
  });

  it('cuts pieces at fixed offsets, whatever the entries', () => {
    const d = tree();
    const { entries } = scanLayerEntries(d);
    const sizes = [...tarPieces(tarItems(d, entries, undefined), 1 << 20, false)].map((p) => p.length);
    expect(sizes.slice(0, -1).every((n) => n === 1 << 20)).toBe(true);
    expect(sizes.at(-1)).toBeLessThanOrEqual(1 << 20);
  });

  it('hashes to the streamed tar’s diffID, and tar-stream reads back every entry', async () => {
    const d = tree();
    const { entries } = scanLayerEntries(d);
    const { stream, diff } = layerTar(d, entries, undefined);
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    const bytes = Buffer.concat(chunks);
    const hashed = await hashLayerTar(d, entries, undefined);
    expect(hashed).toEqual({ digest: diff.digest(), size: bytes.length });
    expect(hashed.digest).toBe(`sha256:${createHash('sha256').update(bytes).digest('hex')}`);

    const seen = new Map<string, { type: string; size: number; linkname?: string | null }>();
    const extract = tar.extract();
    extract.on('entry', (h, body, next) => {
      let size = 0;
      body.on('data', (c: Buffer) => (size += c.length));
      body.on('end', () => {
        seen.set(h.name, { type: h.type ?? '', size, linkname: h.linkname });
        next();
      });
    });
    const finished = new Promise((resolve, reject) => extract.on('finish', resolve).on('error', reject));
    extract.end(bytes);
    await finished;
    expect(seen.get('big.bin')).toEqual({ type: 'file', size: (5 << 20) + 123, linkname: null });
    expect(seen.get('café-ü.txt')?.size).toBe(10);
    expect(seen.get('n'.repeat(120))?.type).toBe('file');
    expect(seen.get('longlink')).toMatchObject({ type: 'symlink', linkname: 't'.repeat(150) });
    expect(seen.get('hard2')).toMatchObject({ type: 'link', linkname: 'hard1' });
    expect(seen.has(`${'a'.repeat(60)}/${'b'.repeat(60)}/${'c'.repeat(60)}/file.txt`)).toBe(true);
  });
});
