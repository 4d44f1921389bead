// Layer compression: the gzip stream of a layer tar, made the same way on
// every machine so a layer built in two stores gets one blob digest. Owns
// the level and block size (chosen by measurement, see DEFAULT_GZIP) and the
// parallel compressor.
//
// Determinism: the tar is cut at fixed offsets (every `blockSize` bytes,
// whatever chunks the tar arrives in), each block is one gzip member from
// Node's bundled zlib at a fixed level, whose header has mtime 0 and OS byte
// 3 (unix) on every machine; whether a block is stored instead of deflated
// is decided from the block's own bytes.
import { availableParallelism } from 'node:os';
import { Transform, type TransformCallback } from 'node:stream';
import { promisify } from 'node:util';
import { deflateRawSync, gzip as gzipCallback, constants as zlibConstants } from 'node:zlib';
import { Gatherer } from '../../gather.js';

const gzipAsync = promisify(gzipCallback);

export interface GzipChoice {
  /** zlib level, 1-9. */
  level: number;
  /** Bytes of tar per gzip member. */
  blockSize: number;
}

/**
 * Level 6 (zlib's default; Go's compress/gzip default is also 6) in 4 MiB
 * members, chosen by bench/layer-sizes.mjs on the same content pushed by
 * all three: for 22.6 MiB of JavaScript, level 1 was 17% larger than
 * buildah's layer and level 6 is 6.5% smaller (BuildKit's: 6.3% smaller);
 * for 112 MiB of shared libraries, +5.1% and -4.1% (BuildKit -3.4%).
 * Level 9 gains 0.3-0.5% more for 2-3x the CPU; 1 MiB members lose 0.1%.
 * Level 6 costs about 3x level 1's CPU, but it is paid only when a blob is
 * asked for (push, save, cache export), on every core, not during a build.
 */
export const DEFAULT_GZIP: GzipChoice = { level: 6, blockSize: 4 << 20 };

/** The media-type-independent name of a choice, for the blob records (`gzip-6-4194304`). */
export function gzipRecordKey(c: GzipChoice): string {
  return `gzip-${c.level}-${c.blockSize}`;
}

/**
 * Whether a block is worth compressing, judged on a 64 KiB sample: random
 * or already-compressed data (a tarball, a JPEG) comes out no smaller, and
 * storing it costs a tenth of deflating it.
 */
function compresses(block: Buffer): boolean {
  const sample = block.subarray(0, 64 * 1024);
  return deflateRawSync(sample, { level: 1 }).length < sample.length * 0.95;
}

/** Room for gzip's header, trailer and stored-block overhead beyond the input size. */
const GZIP_SLACK = 64 * 1024;

/**
 * gzip on every core: the stream is cut into blocks that are compressed
 * independently in libuv's thread pool and written in order as
 * consecutive gzip members, which every gzip reader (RFC 1952, Go's
 * compress/gzip, zlib) reads as one stream. This is pigz's idea in its
 * simplest form; the blocks cost a few bytes of header each.
 */
export class ParallelGzip extends Transform {
  private readonly pending: Promise<Buffer>[] = [];
  private readonly gathered: Gatherer;

  constructor(private readonly choice: GzipChoice = DEFAULT_GZIP, private readonly depth = Math.max(2, availableParallelism())) {
    // Room for one finished member on the way out: with the default 16 KiB,
    // taking the next input waited until the reader had taken the whole
    // last member, so the pool idled while a slow reader (an upload) read.
    super({ readableHighWaterMark: choice.blockSize + 1 });
    this.gathered = new Gatherer(choice.blockSize);
  }

  private compress(block: Buffer): void {
    // Output in one piece: zlib hands output back in chunkSize pieces, each a
    // round trip between the pool thread and this one (16 KiB by default:
    // ~100 per block, 0.5 s of main-thread callbacks for the large-context COPY).
    const level = compresses(block) ? this.choice.level : zlibConstants.Z_NO_COMPRESSION;
    this.pending.push(gzipAsync(block, { level, chunkSize: block.length + GZIP_SLACK }));
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    // Blocks of exactly blockSize bytes: cutting at fixed offsets (not
    // wherever the tar's chunks happen to end) keeps the compressed bytes a
    // function of the tar alone.
    const piece = this.gathered.add(chunk);
    if (piece) {
      const size = this.choice.blockSize;
      let off = 0;
      for (; piece.length - off >= size; off += size) this.compress(piece.subarray(off, off + size));
      if (off < piece.length) this.gathered.add(piece.subarray(off));
    }
    this.drain(cb);
  }

  /** Emit finished blocks in order until fewer than `depth` are in flight. */
  private drain(cb: TransformCallback): void {
    if (this.pending.length < this.depth) { cb(); return; }
    (this.pending.shift() as Promise<Buffer>).then((out) => { this.push(out); this.drain(cb); }, cb);
  }

  override _flush(cb: TransformCallback): void {
    const rest = this.gathered.take();
    if (rest) this.compress(rest);
    Promise.all(this.pending.splice(0)).then((outs) => { for (const o of outs) this.push(o); cb(); }, cb);
  }
}
