// The deterministic layer tar: one function of a layer directory in overlay
// form (a build step's upperdir, or that dir once it is the unpacked layer
// in ROOT/layers/<hex>/diff). Owns the byte format only: entries sorted by
// name (the scan's order), no atime/ctime, PAX records only for xattrs (in
// sorted order), overlay whiteouts written as OCI whiteouts, whole-second
// mtimes (clamped to SOURCE_DATE_EPOCH when given).
//
// Because the tar is a function of the directory, the store does not keep
// it: a built layer is kept unpacked only, and its tar (and so any
// compressed blob of it) is made again from the directory on demand
// (blob-on-demand.ts), checked against the diffID recorded when it was built.
// It lives in the store (not src/image) because the store derives blobs
// from it, and the store may not depend on src/image.
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import * as tar from 'tar-stream';
import { Gatherer } from '../../gather.js';
import { native } from '../../native/index.js';
import { isOverlayXattr, opaqueXattr } from '../privilege.js';

type HeaderArg = Partial<tar.Header> & { name: string };

export type ScanEntry = ReturnType<ReturnType<typeof native>['scanLayer']>[number];

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
export async function writeTar(pack: tar.Pack, root: string, entries: ScanEntry[], clamp: number | undefined): Promise<void> {
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
export class Coalescer extends Transform {
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

/** Passes bytes through while hashing and counting them. */
export class Digester extends Transform {
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

/** The entries of `dir` that go into its layer tar, minus `exclude`. */
export function scanLayerEntries(dir: string, exclude?: ExcludeSet): { all: ScanEntry[]; entries: ScanEntry[] } {
  const all = native().scanLayer(dir);
  return { all, entries: exclude && exclude.size > 0 ? all.filter((e) => !exclude.has(e.path)) : all };
}

export interface LayerTar {
  /** The tar bytes in pieces of about 4 MiB (fewer, larger calls for the hash and the compressor). */
  readonly stream: Readable;
  /** The diffID and byte count, valid once `stream` ended. */
  readonly diff: Digester;
}

/**
 * The tar of `entries` (from a scan of `root`) as a stream, hashed on the
 * way out. Errors of the packer reach the stream.
 */
export function layerTar(root: string, entries: ScanEntry[], clamp: number | undefined): LayerTar {
  const pack = tar.pack();
  const diff = new Digester();
  const coalesce = new Coalescer(4 << 20);
  writeTar(pack, root, entries, clamp).catch((err: Error) => pack.destroy(err));
  pack.on('error', (err) => coalesce.destroy(err));
  coalesce.on('error', (err) => diff.destroy(err));
  pack.pipe(coalesce).pipe(diff);
  return { stream: diff, diff };
}
