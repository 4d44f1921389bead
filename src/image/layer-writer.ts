// Turning a layer directory in overlay form (a container's upperdir, a COPY
// step's output) into an OCI layer blob: one streaming pass of
// scan → tar (overlay whiteouts become OCI whiteouts) → sha256 (diffID) →
// gzip → store (which hashes again for the blob digest while it writes).
// Only the diff is read: the upper dir is exactly what the step changed.
// The tar is deterministic for a given dir: entries sorted by name (the
// scan's order), no atime/ctime, PAX records only for xattrs (in sorted
// order), and gzip members from Node's zlib at one fixed level, whose
// header has mtime 0 and OS byte 3 (unix) whatever the machine. With a
// SOURCE_DATE_EPOCH, every mtime above it is clamped to it.
import { createHash } from 'node:crypto';
import { createReadStream, lutimesSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { availableParallelism } from 'node:os';
import { promisify } from 'node:util';
import { deflateRawSync, gzip as gzipCallback, constants as zlibConstants } from 'node:zlib';

const gzipAsync = promisify(gzipCallback);
import * as tar from 'tar-stream';

type HeaderArg = Partial<tar.Header> & { name: string };
import { Gatherer } from '../gather.js';
import { native } from '../native/index.js';
import type { Store } from '../store/index.js';
import { isOverlayXattr, opaqueXattr } from '../store/privilege.js';
import { MediaType } from './oci.js';

type ScanEntry = ReturnType<ReturnType<typeof native>['scanLayer']>[number];

export interface LayerBlob {
  diffId: string;
  digest: string;
  size: number;
  mediaType: string;
  /** Bytes of the uncompressed tar. */
  uncompressedSize: number;
}

/** Below this, a file is read in one call: cheaper than a stream per small file. */
const SMALL_FILE = 1 << 20;

/** Paths (relative, no leading slash) left out of the layer, e.g. the init layer's files. */
export type ExcludeSet = ReadonlySet<string>;

/** True if an entry is an overlay whiteout: a 0/0 character device. */
function isWhiteout(e: ScanEntry): boolean {
  return e.kind === 'char' && e.rdevMajor === 0 && e.rdevMinor === 0;
}

/** File-type bits: tar-stream replaces a mode of 0 with its default, so give it a non-zero value it then masks to 0o7777. */
const TYPE_BITS: Record<string, number> = { dir: 0o040000, file: 0o100000, symlink: 0o120000, char: 0o020000, block: 0o060000, fifo: 0o010000 };

/**
 * An entry's mtime in the tar: whole seconds (ustar's field; tar-stream
 * writes no sub-second PAX mtime), and with an epoch min(mtime, epoch):
 * content older than the epoch keeps its time, nothing is newer than it.
 * That is a clamp as buildah documents --rewrite-timestamp ("replacing any
 * timestamps which are later than that value, with that value"), as umoci
 * clamps with SOURCE_DATE_EPOCH ("a-la GNU tar's --clamp-mtime") and as
 * BuildKit clamps history times (`h.Created.After(*epoch)`). Unlike them it
 * needs no second flag: the epoch alone turns it on.
 */
function mtimeOf(e: ScanEntry, clamp: number | undefined): Date {
  const sec = clamp !== undefined && e.mtimeSec > clamp ? clamp : e.mtimeSec;
  return new Date(sec * 1000);
}

function baseHeader(e: ScanEntry, clamp: number | undefined): HeaderArg {
  const pax: Record<string, string> = {};
  for (const x of e.xattrs ?? []) {
    if (isOverlayXattr(x.name)) continue; // overlay bookkeeping, not content
    pax[`SCHILY.xattr.${x.name}`] = x.value.toString('latin1');
  }
  return {
    name: e.path,
    mode: e.mode | (TYPE_BITS[e.kind] ?? 0o100000),
    uid: e.uid,
    gid: e.gid,
    mtime: mtimeOf(e, clamp),
    ...(Object.keys(pax).length > 0 ? { pax } : {}),
  };
}

function dirOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i + 1);
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function entryWrite(pack: tar.Pack, header: HeaderArg, body?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    pack.entry(header, body ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
  });
}

/** Writes the tar of `entries` (from `root`) into `pack`, then finalizes it. */
async function writeTar(pack: tar.Pack, root: string, entries: ScanEntry[], clamp: number | undefined): Promise<void> {
  const firstPathOfInode = new Map<string, string>();
  for (const e of entries) {
    if (isWhiteout(e)) {
      await entryWrite(pack, { name: `${dirOf(e.path)}.wh.${baseName(e.path)}`, type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: mtimeOf(e, clamp) });
      continue;
    }
    const h = baseHeader(e, clamp);
    switch (e.kind) {
      case 'dir':
        await entryWrite(pack, { ...h, type: 'directory' });
        if (e.xattrs?.some((x) => x.name === opaqueXattr() && x.value.toString() === 'y')) {
          await entryWrite(pack, { name: `${e.path}/.wh..wh..opq`, type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: h.mtime });
        }
        break;
      case 'symlink':
        await entryWrite(pack, { ...h, type: 'symlink', linkname: e.linkTarget ?? '' });
        break;
      case 'char':
      case 'block':
        await entryWrite(pack, { ...h, type: e.kind === 'char' ? 'character-device' : 'block-device', devmajor: e.rdevMajor, devminor: e.rdevMinor });
        break;
      case 'fifo':
        await entryWrite(pack, { ...h, type: 'fifo' });
        break;
      case 'socket':
        break; // tar cannot carry sockets; docker skips them too
      default: {
        if (e.nlink > 1) {
          const first = firstPathOfInode.get(e.ino);
          if (first !== undefined) {
            await entryWrite(pack, { ...h, type: 'link', linkname: first, size: 0 });
            break;
          }
          firstPathOfInode.set(e.ino, e.path);
        }
        const full = join(root, e.path);
        if (e.size < SMALL_FILE) {
          await entryWrite(pack, { ...h, type: 'file', size: e.size }, readFileSync(full));
        } else {
          await new Promise<void>((resolve, reject) => {
            const sink = pack.entry({ ...h, type: 'file', size: e.size }, (err) => (err ? reject(err) : resolve()));
            createReadStream(full).on('error', reject).pipe(sink);
          });
        }
      }
    }
  }
  pack.finalize();
}

/**
 * Gathers the tar's many small pieces (a 512-byte header and a few KiB per
 * small file) into large chunks: zlib and the hash cost per call, and a
 * context of 20,000 small files otherwise spends most of its time there.
 */
class Coalescer extends Transform {
  private readonly gathered: Gatherer;
  constructor(private readonly target = 1 << 20) {
    super();
    this.gathered = new Gatherer(target);
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    // Pieces of exactly `target` bytes: each is one gzip member, so cutting
    // at fixed offsets (not wherever the packer's chunks happen to end) keeps
    // the compressed bytes a function of the tar alone.
    const piece = this.gathered.add(chunk);
    if (piece) {
      let off = 0;
      for (; piece.length - off >= this.target; off += this.target) this.push(piece.subarray(off, off + this.target));
      if (off < piece.length) this.gathered.add(piece.subarray(off));
    }
    cb();
  }
  override _flush(cb: TransformCallback): void {
    const rest = this.gathered.take();
    if (rest) this.push(rest);
    cb();
  }
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

/**
 * gzip on every core: the stream is cut into blocks that are compressed
 * independently in libuv's thread pool and written in order as
 * consecutive gzip members, which every gzip reader (RFC 1952, Go's
 * compress/gzip, zlib) reads as one stream. This is pigz's idea in its
 * simplest form; the blocks cost a few bytes of header each.
 */
class ParallelGzip extends Transform {
  private readonly pending: Promise<Buffer>[] = [];
  constructor(private readonly level: number, private readonly depth = Math.max(2, availableParallelism())) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    // Output in one piece: zlib hands output back in chunkSize pieces, each a
    // round trip between the pool thread and this one (16 KiB by default:
    // ~100 per block, 0.5 s of main-thread callbacks for the large-context COPY).
    this.pending.push(gzipAsync(chunk, { level: compresses(chunk) ? this.level : zlibConstants.Z_NO_COMPRESSION, chunkSize: chunk.length + GZIP_SLACK }));
    if (this.pending.length < this.depth) { cb(); return; }
    (this.pending.shift() as Promise<Buffer>).then((out) => { this.push(out); cb(); }, cb);
  }
  override _flush(cb: TransformCallback): void {
    Promise.all(this.pending.splice(0)).then((outs) => { for (const o of outs) this.push(o); cb(); }, cb);
  }
}

/** Room for gzip's header, trailer and stored-block overhead beyond the input size. */
const GZIP_SLACK = 64 * 1024;

/** Passes bytes through while hashing and counting them. */
class Digester extends Transform {
  private readonly hash = createHash('sha256');
  size = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    cb(null, chunk);
  }
  digest(): string {
    return `sha256:${this.hash.digest('hex')}`;
  }
}

export interface WriteLayerOptions {
  exclude?: ExcludeSet;
  /** Move the dir into the store as the layer's unpacked form (it is consumed). */
  adopt?: boolean;
  /** SOURCE_DATE_EPOCH (seconds): no mtime in the layer is later than this. */
  clampMtime?: number;
}

/**
 * Writes the layer blob for `dir`. Returns undefined for an empty diff
 * (no layer, as buildah does). With `adopt`, the dir becomes the layer's
 * lowerdir in the store; excluded paths are removed from it first so the
 * dir and the blob hold the same files.
 */
export async function writeLayer(store: Store, dir: string, opts: WriteLayerOptions = {}): Promise<LayerBlob | undefined> {
  const exclude = opts.exclude ?? new Set<string>();
  const all = native().scanLayer(dir);
  const entries = all.filter((e) => !exclude.has(e.path));
  if (entries.length === 0) return undefined;
  const pack = tar.pack();
  const diff = new Digester();
  const gzip = new ParallelGzip(zlibConstants.Z_BEST_SPEED);
  const clamp = opts.clampMtime;
  const writing = writeTar(pack, dir, entries, clamp);
  const [blob] = await Promise.all([
    store.putBlob(gzip),
    pipeline(pack, new Coalescer(4 << 20), diff, gzip),
    writing,
  ]);
  const layer: LayerBlob = { diffId: diff.digest(), digest: blob.digest, size: blob.size, mediaType: MediaType.ociLayerGzip, uncompressedSize: diff.size };
  if (opts.adopt) {
    for (const e of all) if (exclude.has(e.path)) rmSync(join(dir, e.path), { recursive: true, force: true });
    // The unpacked layer shows what the blob holds, so later steps and `run`
    // see the clamped times a puller sees (a child's utime leaves its parent's mtime alone).
    if (clamp !== undefined) for (const e of entries) if (e.mtimeSec > clamp) lutimesSync(join(dir, e.path), clamp, clamp);
    await store.adoptLayerDir(layer.diffId, layer.digest, layer.mediaType, dir, layer.uncompressedSize);
  }
  return layer;
}
