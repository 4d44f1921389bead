// Crash safety: a writer killed with SIGKILL mid-blob or mid-unpack leaves
// only temp garbage, which the next openStore() removes; every blob left is
// still the content its name says, and the work can simply be redone.
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../../src/store/index.js';
import { makeTar, sha256 } from '../oci-fixture.js';
import { storeChild, exited, waitForLine } from './child.js';
import { compress, tempDir } from './helpers.js';

async function verifyAll(root: string): Promise<number> {
  const store = await openStore(root);
  const hexes = readdirSync(join(root, 'blobs/sha256'));
  for (const h of hexes) await store.readBlob(`sha256:${h}`);
  await store.close();
  return hexes.length;
}

describe('crash safety', () => {
  it('a blob put killed midway leaves nothing but garbage that the next open cleans', async () => {
    const t = tempDir('crash');
    try {
      const root = join(t.dir, 'root');
      const child = storeChild(root, `
await store.putBlobBytes(Buffer.from('an earlier blob'));
async function* slow() {
  for (let i = 0; ; i++) {
    yield Buffer.alloc(1 << 20, i);
    if (i === 3) process.stdout.write('writing\\n');
    await new Promise((r) => setTimeout(r, 10));
  }
}
await store.putBlob(slow());`);
      const done = exited(child);
      await waitForLine(child, 'writing');
      child.kill('SIGKILL');
      expect((await done).signal).toBe('SIGKILL');
      const garbage = readdirSync(join(root, 'tmp'));
      expect(garbage.some((n) => n.startsWith(`blob-${child.pid}-`))).toBe(true);
      expect(await verifyAll(root)).toBe(1); // only the earlier, complete blob
      expect(readdirSync(join(root, 'tmp'))).toEqual([]);
    } finally {
      t.cleanup();
    }
  });

  it('an unpack killed midway leaves no layer, and the next attempt succeeds', async () => {
    const t = tempDir('crash-unpack');
    try {
      const root = join(t.dir, 'root');
      // Many files in a zstd layer (decoded in JS, so the unpack takes a while).
      const entries = Array.from({ length: 3000 }, (_, i) => ({ name: `d${i % 30}/f${i}`, data: Buffer.alloc(16384, i % 251) }));
      const tarBuf = await makeTar(entries);
      const blob = compress(tarBuf, 'zstd');
      const blobFile = join(t.dir, 'layer.zst');
      writeFileSync(blobFile, blob);
      const diffId = sha256(tarBuf);
      const child = storeChild(root, `
const fs = await import('node:fs');
const { digest } = await store.putBlob(fs.createReadStream(args[0]));
process.stdout.write('unpacking\\n');
await store.ensureLayerUnpacked(args[1], digest, 'application/vnd.oci.image.layer.v1.tar+zstd');
process.stdout.write('done\\n');`, [blobFile, diffId]);
      const done = exited(child);
      await waitForLine(child, 'unpacking');
      // Kill once the half-made layer exists in tmp/.
      for (let i = 0; i < 500 && !readdirSync(join(root, 'tmp')).some((n) => n.startsWith('layer-')); i++) await new Promise((r) => setTimeout(r, 5));
      child.kill('SIGKILL');
      const res = await done;
      expect(res.stdout).not.toContain('done');
      expect(existsSync(join(root, 'layers', diffId.slice(7)))).toBe(false);
      expect(readdirSync(join(root, 'tmp')).some((n) => n.startsWith(`layer-${child.pid}-`))).toBe(true);
      const store = await openStore(root);
      expect(readdirSync(join(root, 'tmp'))).toEqual([]);
      const dir = await store.ensureLayerUnpacked(diffId, sha256(blob), 'application/vnd.oci.image.layer.v1.tar+zstd');
      expect(readdirSync(join(dir, 'd7')).length).toBe(100);
      await store.close();
    } finally {
      t.cleanup();
    }
  });

  it('a corrupt blob from a source is rejected and leaves nothing behind', async () => {
    const t = tempDir('corrupt');
    try {
      const root = join(t.dir, 'root');
      const store = await openStore(root);
      const good = Buffer.from('layer bytes');
      const bad = Buffer.from('layer bytez');
      const err = await store.putBlobBytes(bad, { digest: sha256(good), size: good.length }).catch((e: unknown) => e as { code: string; message: string });
      expect(err.code).toBe('E_DIGEST_MISMATCH');
      expect(err.message).toContain(sha256(good));
      expect(readdirSync(join(root, 'blobs/sha256'))).toEqual([]);
      expect(readdirSync(join(root, 'tmp'))).toEqual([]);
      await store.close();
    } finally {
      t.cleanup();
    }
  });
});
