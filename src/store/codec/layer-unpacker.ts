// A layer unpack fed chunk by chunk: the compressed bytes go in as they
// arrive (from a download or a blob file), and finish() returns the diffID.
//
// Owns the shape of the data on its way in. The compression is sniffed from
// the first bytes, whatever the media type says. Network chunks (16-64 KiB)
// are gathered into 1 MiB writes: zlib inflates on the libuv thread pool,
// one round trip per write, so small writes leave both the pool thread and
// the main thread waiting on each other (measured on a 50 MiB layer: 264 ms
// with 64 KiB writes, 87 ms with 1 MiB ones). A worker thread per layer was
// measured too and lost: its start-up and the copies cost more than the
// second core gained, which zlib's pool thread already provides.
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { Gatherer } from '../../gather.js';
import { detectCompression, type Compression } from './compression.js';
import type { UnpackOptions, UnpackResult } from './unpack.js';

/** Bytes gathered before they are handed to the decompressor. */
const WRITE_BYTES = 1 << 20;

/** Enough leading bytes to tell gzip, zstd and plain tar apart (zstd's magic is the longest). */
const MAGIC_BYTES = 4;

export interface UnpackedLayer extends UnpackResult {
  /** What the magic bytes said the layer was compressed with. */
  compression: Compression;
}

export interface LayerUnpacker {
  /** Accept the next compressed bytes; resolves when more may be written, rejects once the unpack failed. */
  write(chunk: Buffer): Promise<void>;
  /** No more bytes: wait for the unpack; the diffID and size of the tar stream, and the compression. */
  finish(): Promise<UnpackedLayer>;
  /** Stop, and resolve once nothing writes into the destination any more. */
  abort(reason: Error): Promise<void>;
}

/** Start unpacking into the existing empty directory `destDir`. */
export function startLayerUnpack(destDir: string, opts: UnpackOptions): LayerUnpacker {
  return new SniffingUnpacker(destDir, opts);
}

/** Holds the first bytes until the compression is known, then starts the unpack with them. */
class SniffingUnpacker implements LayerUnpacker {
  private readonly head = new Gatherer(MAGIC_BYTES);
  private inner: InlineUnpacker | undefined;
  private compression: Compression = 'none';

  constructor(private readonly destDir: string, private readonly opts: UnpackOptions) {}

  private async begin(head: Buffer): Promise<InlineUnpacker> {
    this.compression = detectCompression(head);
    const inner = new InlineUnpacker(this.destDir, this.compression, this.opts);
    this.inner = inner;
    if (head.length > 0) await inner.write(head);
    return inner;
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.inner) return this.inner.write(chunk);
    const head = this.head.add(chunk);
    if (head) await this.begin(head);
  }

  async finish(): Promise<UnpackedLayer> {
    const inner = this.inner ?? (await this.begin(this.head.take() ?? Buffer.alloc(0)));
    return { ...(await inner.finish()), compression: this.compression };
  }

  async abort(reason: Error): Promise<void> {
    await this.inner?.abort(reason);
  }
}

/** unpackLayer reading from a pipe the writes fill, in WRITE_BYTES pieces. */
class InlineUnpacker {
  private readonly pipe = new PassThrough({ highWaterMark: 2 * WRITE_BYTES });
  private readonly result: Promise<UnpackResult>;
  private failed: unknown;
  private readonly gathered = new Gatherer(WRITE_BYTES);

  constructor(destDir: string, compression: Compression, opts: UnpackOptions) {
    this.result = import('./unpack.js').then(({ unpackLayer }) => unpackLayer(this.pipe, compression, destDir, opts));
    this.result.catch((err: unknown) => {
      this.failed = err;
      this.pipe.destroy();
    });
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.failed !== undefined) throw this.failed;
    await this.send(this.gathered.add(chunk));
  }

  private async send(piece: Buffer | undefined): Promise<void> {
    if (!piece || this.pipe.write(piece)) return;
    await Promise.race([once(this.pipe, 'drain'), this.result]);
    if (this.failed !== undefined) throw this.failed;
  }

  async finish(): Promise<UnpackResult> {
    await this.send(this.gathered.take());
    this.pipe.end();
    return this.result;
  }

  async abort(reason: Error): Promise<void> {
    this.pipe.destroy(reason);
    await this.result.catch(() => undefined);
  }
}
