// Layer compression, decided by magic bytes (a registry's or archive's media
// type can lie, and docker-archive layers carry none): gzip, zstd or a plain
// tar. gzip uses Node's zlib (native, fast). Node 20's zlib has no zstd, so
// zstd uses fzstd, a small pure-JS decoder with no native build step; it is
// slower than libzstd but zstd layers are rare next to gzip, and a crate
// binding would need a streaming decoder object across napi for little gain.
import { open } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { createRequire } from 'node:module';
import type { Decompress as ZstdDecoder } from 'fzstd';
import { TsbuildError } from '../../errors.js';

export type Compression = 'gzip' | 'zstd' | 'none';

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

export function detectCompression(head: Uint8Array): Compression {
  const starts = (m: number[]): boolean => head.length >= m.length && m.every((b, i) => head[i] === b);
  if (starts(GZIP_MAGIC)) return 'gzip';
  if (starts(ZSTD_MAGIC)) return 'zstd';
  return 'none';
}

/** A streaming zstd decoder as a Node Transform. */
class ZstdDecompress extends Transform {
  // Loaded on first use (through its CommonJS build): most layers are gzip.
  private readonly dec: ZstdDecoder = new (createRequire(import.meta.url)('fzstd') as typeof import('fzstd')).Decompress((data) => {
    this.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  });

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.dec.push(chunk);
      cb();
    } catch (err) {
      cb(new TsbuildError('E_BAD_LAYER', `zstd stream is corrupt: ${(err as Error).message}`));
    }
  }

  override _flush(cb: TransformCallback): void {
    try {
      this.dec.push(new Uint8Array(0), true);
      cb();
    } catch (err) {
      cb(new TsbuildError('E_BAD_LAYER', `zstd stream is corrupt: ${(err as Error).message}`));
    }
  }
}

/** A Transform that decompresses `kind` (or passes through). */
export function decompressor(kind: Compression): Transform {
  if (kind === 'gzip') return createGunzip({ chunkSize: 1 << 20 }); // see layer-unpacker.ts: few, large pool round trips
  if (kind === 'zstd') return new ZstdDecompress();
  return new Transform({ transform: (chunk, _enc, cb) => cb(null, chunk) });
}

/** The compression of a file, from its first bytes (blobs are files: no stream sniffing needed). */
export async function detectFileCompression(path: string): Promise<Compression> {
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(4);
    const { bytesRead } = await fh.read(head, 0, 4, 0);
    return detectCompression(head.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}
