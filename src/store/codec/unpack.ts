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
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { TsbuildError } from '../../errors.js';
import { native, nativeCall } from '../../native/index.js';
import type { EntryMeta, RootedDir } from '../../../crates/native/binding.js';
import { HashingTransform } from '../digest.js';
import { decompressor, type Compression } from './compression.js';
import { EntryBatcher } from './entry-batch.js';
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

/** Unpacks entries into one RootedDir through batches; keeps the deferred directory metadata. */
class LayerWriter {
  private readonly dirs = new Map<string, EntryMeta>();
  readonly batch: EntryBatcher;

  constructor(root: RootedDir, private readonly opts: UnpackOptions, private readonly binaryXattrs: boolean) {
    this.batch = new EntryBatcher(root, opts.what);
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
    const b = this.batch;

    if (base.startsWith(WHITEOUT)) {
      body.resume();
      this.whiteout(h, parent, base);
      return b.maybeFlush();
    }
    switch (h.type) {
      case 'directory': {
        b.mkdir(path);
        const opaque = this.dirs.get(path)?.xattrs?.filter((x) => x.name === opaqueXattr()) ?? [];
        this.dirs.set(path, metaOf(h, this.binaryXattrs, opaque));
        body.resume();
        break;
      }
      case 'file':
      case 'contiguous-file': {
        this.replaced(path);
        b.fileOpen(path);
        // A large file spans batches: the crate keeps it open and paces its writeback.
        for await (const chunk of body) {
          b.fileData(chunk as Buffer);
          await b.maybeFlush();
        }
        b.fileClose(metaOf(h, this.binaryXattrs));
        break;
      }
      case 'symlink':
        this.replaced(path);
        body.resume();
        b.symlink(path, h.linkname ?? '', metaOf(h, this.binaryXattrs));
        break;
      case 'link':
        this.replaced(path);
        body.resume();
        // The target is resolved inside the root too (a host file is unreachable).
        b.hardlink(path, cleanTarPath(h.linkname ?? ''));
        break;
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        this.replaced(path);
        body.resume();
        const kind = h.type === 'fifo' ? 'fifo' : h.type === 'block-device' ? 'block' : 'char';
        // Only host root may make device nodes; rootless skips them, as rootless buildah does.
        if (kind !== 'fifo' && !(this.opts.privileged && canMakeDevices())) return;
        b.mknod(path, kind, h.devmajor ?? 0, h.devminor ?? 0, metaOf(h, this.binaryXattrs));
        break;
      }
      default:
        body.resume(); // pax/GNU headers are folded in by tar-stream; other types carry nothing for a rootfs
        return;
    }
    await b.maybeFlush();
  }

  private whiteout(h: tar.Header, parent: string, base: string): void {
    if (base === OPAQUE) {
      // An opaque directory hides every lower entry below it.
      if (parent === '') return; // the layer root: nothing below it to hide in a lowerdir stack
      this.batch.mkdir(parent);
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
    this.batch.whiteout(path);
  }

  /** Apply directory metadata deepest first, then wait for every batch (the store syncs the tree before publishing it). */
  async finish(): Promise<void> {
    const paths = [...this.dirs.keys()].sort((a, b) => b.split('/').length - a.split('/').length);
    for (const p of paths) {
      this.batch.setMetadata(p === '' ? '.' : p, this.dirs.get(p) as EntryMeta);
      await this.batch.maybeFlush();
    }
    await this.batch.finish();
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
    await pump;
    await writer.finish();
  } catch (err) {
    loopError = err;
    extract.destroy();
  }
  if (loopError !== undefined) {
    await pump.catch(() => undefined);
    await writer.batch.abort(); // nothing may write into destDir once the caller removes it
    throw asLayerError(opts.what, loopError);
  }
  return { diffId: hasher.digest(), size: hasher.bytes };
}

function asLayerError(what: string, err: unknown): TsbuildError {
  if (err instanceof TsbuildError) return err;
  const msg = (err as Error)?.message ?? String(err);
  return new TsbuildError('E_BAD_LAYER', `${what}: ${msg}`, { cause: err });
}
