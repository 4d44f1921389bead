// Shared bits for the store's integration tests: a fresh store root per test
// and a one-call "put this layer tar and unpack it".
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { openStore, type Store } from '../../../src/store/index.js';
import { sha256 } from '../oci-fixture.js';

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `tsbuild-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function withStore<T>(fn: (store: Store, root: string) => Promise<T>): Promise<T> {
  const t = tempDir('store');
  const store = await openStore(join(t.dir, 'root'));
  try {
    return await fn(store, join(t.dir, 'root'));
  } finally {
    await store.close();
    t.cleanup();
  }
}

export function compress(tarBuf: Buffer, how: 'gzip' | 'zstd' | 'none'): Buffer {
  if (how === 'gzip') return gzipSync(tarBuf);
  if (how === 'zstd') return execFileSync('zstd', ['-q', '-c', '-3'], { input: tarBuf, maxBuffer: 1 << 28 });
  return tarBuf;
}

const MEDIA = { gzip: 'application/vnd.oci.image.layer.v1.tar+gzip', zstd: 'application/vnd.oci.image.layer.v1.tar+zstd', none: 'application/vnd.oci.image.layer.v1.tar' };

/** Put `tarBuf` (compressed as asked) into the store and unpack it; returns the layer dir. */
export async function unpackTar(store: Store, tarBuf: Buffer, how: 'gzip' | 'zstd' | 'none' = 'gzip'): Promise<string> {
  const blob = compress(tarBuf, how);
  const { digest } = await store.putBlobBytes(blob);
  return store.ensureLayerUnpacked(sha256(tarBuf), digest, MEDIA[how]);
}
