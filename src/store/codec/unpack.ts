// Layer unpacking: an (optionally compressed) layer tar → a directory in
// overlayfs form, computing the diffID of the uncompressed stream on the way.
//
// Owns the mapping from tar entries to rooted file operations and the
// whiteout conversion (`.wh.NAME` → a 0/0 char device NAME,
// `.wh..wh..opq` → trusted.overlay.opaque=y on the directory). Every file
// system change goes through the native RootedDir (openat2 RESOLVE_IN_ROOT),
// so hostile names (`../x`, `/abs`, entries below a symlink that points out,
// hard links to host files) cannot touch anything outside `destDir`.
// Directory metadata is applied last, deepest first: creating children
// would change a directory's mtime, and a 0555 directory must stay writable
// until its children exist.
import { writeSync, closeSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { TsbuildError } from '../../errors.js';
import { native, nativeCall, WritebackPacer } from '../../native/index.js';
import type { EntryMeta, RootedDir } from '../../../crates/native/binding.js';
import { HashingTransform } from '../digest.js';
import { decompressor, type Compression } from './compression.js';
import { useBinaryXattrs, xattrsOf } from './pax.js';
import { canMakeDevices, isOverlayXattr, opaqueXattr } from '../privilege.js';

export interface UnpackResult {
  /** sha256 of the uncompressed tar stream. */
  diffId: string;
  /** Bytes of the uncompressed tar stream. */
  size: number;
}

export interface UnpackOptions {
  /** Running as root: chown entries and create device nodes. */
  privileged: boolean;
  /** For messages: which layer this is. */
  what: string;
}

const OPAQUE = '.wh..wh..opq';
// overlayfs reads trusted.overlay.* (user.overlay.* rootless: opaque,
// redirect, metacopy, origin) to decide what a merged directory shows; a
// layer may not set them itself: only our whiteout conversion writes the
// opaque marker (isOverlayXattr filters both namespaces).
const WHITEOUT = '.wh.';
/** Small files are left to the final syncfs, which batches them better than one request each. */
const WRITEBACK_MIN_TAIL = 1 << 20;

/** Lexically clean a tar name into components (mirrors the Rust side; `..` clamps at the root). */
export function cleanTarPath(name: string): string {
  const out: string[] = [];
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') out.pop();
    else out.push(c);
  }
  return out.join('/');
}

function paxOf(h: tar.Header): Record<string, string> | undefined {
  return (h.pax ?? undefined) as Record<string, string> | undefined;
}

function metaOf(h: tar.Header, binaryXattrs: boolean, extra: { name: string; value: Buffer }[] = []): EntryMeta {
  const mtimeMs = h.mtime ? h.mtime.getTime() : 0;
  // PAX mtimes carry sub-second precision that tar-stream's Date drops.
  const pax = paxOf(h);
  const paxMtime = pax?.mtime ? Number(pax.mtime) : NaN;
  const sec = Number.isFinite(paxMtime) ? Math.floor(paxMtime) : Math.floor(mtimeMs / 1000);
  const nsec = Number.isFinite(paxMtime) ? Math.min(999_999_999, Math.round((paxMtime - sec) * 1e9)) : 0;
  return {
    uid: h.uid ?? 0,
    gid: h.gid ?? 0,
    mode: (h.mode ?? 0o644) & 0o7777,
    mtimeSec: sec,
    mtimeNsec: Math.max(0, nsec),
    xattrs: [...xattrsOf(pax, binaryXattrs).filter((x) => !isOverlayXattr(x.name)), ...extra],
  };
}

function writeAll(fd: number, buf: Buffer): void {
  // Synchronous writes: the data goes to the page cache, and a libuv
  // round-trip per 64 KiB chunk would cost more than it frees the loop.
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

/** Unpacks entries into one RootedDir; keeps the deferred directory metadata. */
class LayerWriter {
  private readonly dirs = new Map<string, EntryMeta>();

  constructor(private readonly root: RootedDir, private readonly opts: UnpackOptions, private readonly binaryXattrs: boolean) {}

  private call<T>(fn: () => T, path: string): T {
    return nativeCall(`${this.opts.what}: ${path}`, fn);
  }

  /** A non-directory replaces whatever was at `path`, including a directory and its pending metadata. */
  private replaced(path: string): void {
    if (!this.dirs.has(path)) return;
    for (const k of [...this.dirs.keys()]) if (k === path || k.startsWith(`${path}/`)) this.dirs.delete(k);
  }

  async entry(h: tar.Header, body: AsyncIterable<unknown> & { resume(): unknown }): Promise<void> {
    const path = cleanTarPath(h.name);
    const slash = path.lastIndexOf('/');
    const base = path.slice(slash + 1);
    const parent = slash < 0 ? '' : path.slice(0, slash);

    if (base.startsWith(WHITEOUT)) {
      body.resume();
      this.whiteout(h, parent, base);
      return;
    }
    switch (h.type) {
      case 'directory': {
        this.call(() => this.root.mkdir(path), path);
        const opaque = this.dirs.get(path)?.xattrs?.filter((x) => x.name === opaqueXattr()) ?? [];
        this.dirs.set(path, metaOf(h, this.binaryXattrs, opaque));
        body.resume();
        return;
      }
      case 'file':
      case 'contiguous-file': {
        this.replaced(path);
        const fd = this.call(() => this.root.createFile(path), path);
        try {
          // Large files: let the disk start now; the store's syncfs before publishing then waits less.
          const writeback = new WritebackPacer(fd);
          for await (const chunk of body) {
            writeAll(fd, chunk as Buffer);
            writeback.wrote((chunk as Buffer).length);
          }
          writeback.finish(WRITEBACK_MIN_TAIL);
        } catch (err) {
          closeSync(fd);
          throw err;
        }
        this.call(() => this.root.finishFile(fd, metaOf(h, this.binaryXattrs)), path);
        return;
      }
      case 'symlink':
        this.replaced(path);
        body.resume();
        this.call(() => this.root.symlink(path, h.linkname ?? ''), path);
        this.call(() => this.root.setMetadata(path, metaOf(h, this.binaryXattrs)), path);
        return;
      case 'link':
        this.replaced(path);
        body.resume();
        // The target is resolved inside the root too (a host file is unreachable).
        this.call(() => this.root.hardlink(path, cleanTarPath(h.linkname ?? '')), path);
        return;
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        this.replaced(path);
        body.resume();
        const kind = h.type === 'fifo' ? 'fifo' : h.type === 'block-device' ? 'block' : 'char';
        // Only host root may make device nodes; rootless skips them, as rootless buildah does.
        if (kind !== 'fifo' && !(this.opts.privileged && canMakeDevices())) return;
        this.call(() => this.root.mknod(path, kind, h.devmajor ?? 0, h.devminor ?? 0), path);
        this.call(() => this.root.setMetadata(path, metaOf(h, this.binaryXattrs)), path);
        return;
      }
      default:
        body.resume(); // pax/GNU headers are folded in by tar-stream; other types carry nothing for a rootfs
    }
  }

  private whiteout(h: tar.Header, parent: string, base: string): void {
    if (base === OPAQUE) {
      // An opaque directory hides every lower entry below it.
      if (parent === '') return; // the layer root: nothing below it to hide in a lowerdir stack
      this.call(() => this.root.mkdir(parent), parent);
      const meta = this.dirs.get(parent) ?? metaOf({ ...h, mode: 0o755 } as tar.Header, this.binaryXattrs);
      meta.xattrs = [...(meta.xattrs ?? []).filter((x) => x.name !== opaqueXattr()), { name: opaqueXattr(), value: Buffer.from('y') }];
      this.dirs.set(parent, meta);
      return;
    }
    if (base.startsWith(`${WHITEOUT}${WHITEOUT}`)) return; // other aufs metadata (.wh..wh.plnk): not content
    const target = base.slice(WHITEOUT.length);
    if (target === '' || target === '.' || target === '..') {
      throw new TsbuildError('E_BAD_LAYER', `${this.opts.what}: invalid whiteout entry "${h.name}"`);
    }
    const path = parent === '' ? target : `${parent}/${target}`;
    this.replaced(path);
    if (!this.opts.privileged) return; // a whiteout device needs CAP_MKNOD
    this.call(() => this.root.whiteout(path), path);
  }

  /** Apply directory metadata deepest first (the store syncs the tree before publishing it). */
  finish(): void {
    const paths = [...this.dirs.keys()].sort((a, b) => b.split('/').length - a.split('/').length);
    for (const p of paths) {
      const meta = this.dirs.get(p) as EntryMeta;
      this.call(() => this.root.setMetadata(p === '' ? '.' : p, meta), p || '.');
    }
  }
}

/**
 * Unpack `source` (compressed as `compression`) into the existing empty
 * directory `destDir`. Returns the diffID; the caller compares it with the
 * expected one before publishing `destDir`.
 */
export async function unpackLayer(source: Readable, compression: Compression, destDir: string, opts: UnpackOptions): Promise<UnpackResult> {
  const root = nativeCall(`${opts.what}: open ${destDir}`, () => new (native().RootedDir)(destDir, opts.privileged));
  const extract = tar.extract();
  const binary = useBinaryXattrs(extract);
  const writer = new LayerWriter(root, opts, binary);
  const hasher = new HashingTransform();
  const pump = pipeline(source, decompressor(compression), hasher, extract);
  let loopError: unknown;
  try {
    for await (const entry of extract) {
      await writer.entry(entry.header, entry);
    }
  } catch (err) {
    loopError = err;
    extract.destroy();
  }
  try {
    await pump;
  } catch (err) {
    loopError ??= err;
  }
  if (loopError !== undefined) throw asLayerError(opts.what, loopError);
  writer.finish();
  return { diffId: hasher.digest(), size: hasher.bytes };
}

function asLayerError(what: string, err: unknown): TsbuildError {
  if (err instanceof TsbuildError) return err;
  const msg = (err as Error)?.message ?? String(err);
  return new TsbuildError('E_BAD_LAYER', `${what}: ${msg}`, { cause: err });
}
