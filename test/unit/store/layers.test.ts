// Layers without root: a plain layer (files, dirs, symlinks, hard links)
// unpacks as any user, and a build's directory is adopted as a layer by
// rename, idempotently.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
    mkdirSync(build);
    expect(await store.adoptLayerDir(diffId, blob.digest, 'x', build, 14)).toBe(out);
    expect(existsSync(build)).toBe(false);
  });
});
