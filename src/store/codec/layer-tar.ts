// The deterministic layer tar: one function of a layer directory in overlay
// form (a build step's upperdir, or that dir once it is the unpacked layer
// in ROOT/layers/<hex>/diff). Owns the byte format only: entries sorted by
// name (the scan's order), no atime/ctime, PAX records only for xattrs (in
// sorted order), overlay whiteouts written as OCI whiteouts, whole-second
// mtimes (clamped to SOURCE_DATE_EPOCH when given). The tar's bytes are
// encoded and cut into pieces by tar-pieces.ts (files read straight into
// the pieces); this module decides which entries, headers and bodies.
//
// Because the tar is a function of the directory, the store does not keep
// it: a built layer is kept unpacked only, and its tar (and so any
// compressed blob of it) is made again from the directory on demand
// (blob-on-demand.ts), checked against the diffID recorded when it was built.
// It lives in the store (not src/image) because the store derives blobs
// from it, and the store may not depend on src/image.
import { nodeCrypto } from '../../node-crypto.js';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { native } from '../../native/index.js';
import { digestMismatch } from '../digest.js';
import { isOverlayXattr, opaqueXattr } from '../privilege.js';
import { tarPieces, type TarHeader, type TarItem } from './tar-pieces.js';

type HeaderArg = Omit<TarHeader, 'type'>;

export type ScanEntry = ReturnType<ReturnType<typeof native>['scanLayer']>[number];

/** The size of the tar's pieces (what the hash and the compressor are called with). */
const PIECE = 4 << 20;

/** Paths (relative, no leading slash) left out of the layer, e.g. the init layer's files. */
export type ExcludeSet = ReadonlySet<string>;

/** True if an entry is an overlay whiteout: a 0/0 character device. */
function isWhiteout(e: ScanEntry): boolean {
  return e.kind === 'char' && e.rdevMajor === 0 && e.rdevMinor === 0;
}

/** File-type bits, masked off again (mode & 0o7777) by the encoder; tar-stream, which made these tars before, needed a non-zero mode. */
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

/**
 * The tar entries of `entries` (from `root`), in order: whiteouts as OCI
 * whiteouts, an opaque dir followed by its `.wh..wh..opq`, the second path
 * of a hard-linked inode as a link to the first, sockets left out.
 */
export function* tarItems(root: string, entries: ScanEntry[], clamp: number | undefined): Generator<TarItem> {
  const firstPathOfInode = new Map<string, string>();
  for (const e of entries) {
    if (isWhiteout(e)) {
      yield { header: { name: `${dirOf(e.path)}.wh.${baseName(e.path)}`, type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: mtimeOf(e, clamp) } };
      continue;
    }
    const h = baseHeader(e, clamp);
    switch (e.kind) {
      case 'dir':
        yield { header: { ...h, type: 'directory' } };
        if (e.xattrs?.some((x) => x.name === opaqueXattr() && x.value.toString() === 'y')) {
          yield { header: { name: `${e.path}/.wh..wh..opq`, type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: h.mtime } };
        }
        break;
      case 'symlink':
        yield { header: { ...h, type: 'symlink', linkname: e.linkTarget ?? '' } };
        break;
      case 'char':
      case 'block':
        yield { header: { ...h, type: e.kind === 'char' ? 'character-device' : 'block-device', devmajor: e.rdevMajor, devminor: e.rdevMinor } };
        break;
      case 'fifo':
        yield { header: { ...h, type: 'fifo' } };
        break;
      case 'socket':
        break; // tar cannot carry sockets; docker skips them too
      default: {
        if (e.nlink > 1) {
          const first = firstPathOfInode.get(e.ino);
          if (first !== undefined) {
            yield { header: { ...h, type: 'link', linkname: first, size: 0 } };
            break;
          }
          firstPathOfInode.set(e.ino, e.path);
        }
        yield { header: { ...h, type: 'file', size: e.size }, file: join(root, e.path) };
      }
    }
  }
}

/** Passes bytes through while hashing and counting them. */
export class Digester {
  private readonly hash = nodeCrypto().createHash('sha256');
  size = 0;
  update(chunk: Buffer): void {
    this.hash.update(chunk);
    this.size += chunk.length;
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

/** What a tar made again must hash to (its diffID and size), and what to call it in the error. */
export interface ExpectedTar {
  what: string;
  digest: string;
  size: number;
}

export interface LayerTar {
  /** The tar bytes in pieces of exactly 4 MiB, the last one shorter (fewer, larger calls for the hash and the compressor). */
  readonly stream: Readable;
  /** The diffID and byte count, valid once `stream` ended. */
  readonly diff: Digester;
}

/**
 * The tar of `entries` (from a scan of `root`) as a stream, hashed on the
 * way out. Pieces are cut at fixed offsets, so a compressor making one gzip
 * member per piece gives bytes that are a function of the tar alone. With
 * `expected`, the stream fails (E_DIGEST_MISMATCH) instead of ending unless
 * that hash matches, and as soon as it grows past the size: the check a
 * VerifyingTransform would make, without hashing the tar a second time.
 */
export function layerTar(root: string, entries: ScanEntry[], clamp: number | undefined, expected?: ExpectedTar): LayerTar {
  const diff = new Digester();
  const pieces = tarPieces(tarItems(root, entries, clamp), PIECE, false);
  // One piece per turn of the event loop: reading a big layer does not hold
  // the loop (progress, the other stages, a push's uploads) for its length.
  const stream = new Readable({
    read(): void {
      setImmediate(() => {
        let next: IteratorResult<Buffer>;
        try {
          next = pieces.next();
        } catch (err) {
          this.destroy(err as Error);
          return;
        }
        if (next.done) {
          const got = expected ? { digest: diff.digest(), size: diff.size } : undefined;
          if (expected && got && (got.digest !== expected.digest || got.size !== expected.size)) this.destroy(digestMismatch(expected.what, expected, got));
          else this.push(null);
          return;
        }
        diff.update(next.value);
        if (expected && diff.size > expected.size) {
          this.destroy(digestMismatch(expected.what, expected, { size: diff.size }));
          return;
        }
        this.push(next.value);
      });
    },
    destroy(err, cb): void {
      pieces.return(undefined); // closes the file being read, if any
      cb(err);
    },
  });
  return { stream, diff };
}

/**
 * The diffID and size of the tar of `entries`, with nothing kept: one piece
 * buffer reused throughout. Gives the event loop a turn every 64 MiB so
 * that progress and other stages go on meanwhile.
 */
export async function hashLayerTar(root: string, entries: ScanEntry[], clamp: number | undefined): Promise<{ digest: string; size: number }> {
  const diff = new Digester();
  let n = 0;
  for (const piece of tarPieces(tarItems(root, entries, clamp), PIECE, true)) {
    diff.update(piece);
    if (++n % 16 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  return { digest: diff.digest(), size: diff.size };
}
