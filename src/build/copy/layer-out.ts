// Writing one step's changes into its (initially empty) layer directory.
//
// Owns the safety rule for COPY's writes: every path component under the
// layer directory is created here, and remembered, so no write can pass
// through a symlink (a copied link named like a later directory, or one that
// an ADD archive left): a slot that holds something else is removed first,
// and files are created with O_EXCL. Below a directory an archive was
// unpacked into, nothing is remembered, so there each component is checked
// with lstat instead.
//
// Also owns parent-directory metadata: a directory the merged image already
// has is recreated in the layer with its mode, owner and mtime (so the
// overlay shows it unchanged); one it lacks gets 0755, the step's --chown
// owner (else root) and the current time, as buildah creates them.
// Directory metadata is applied last, deepest first, so that adding
// children does not move mtimes and a 0500 directory stays writable until
// it is complete.
//
// Two ways to write. Synchronous calls from this thread (WORKDIR's one
// directory, and a COPY after an ADD archive was unpacked into its layer),
// or batched: every write becomes an operation of the crate's entry batches
// (the unpacker's, store/codec/entry-batch.ts), applied in order on a worker
// thread while this one walks and lstats the next sources. A 20,000-file
// COPY spent most of its 2.8 s in this thread's per-file syscalls (open,
// copy, close, chown, chmod, utimes: each a napi round trip and a path walk
// from the layer directory). In a batch each operation is resolved with
// openat2 RESOLVE_IN_ROOT and replaces what was at its name (a dir, a file
// or a link), so the slot map is bookkeeping only there.
import { chmodSync, copyFileSync, constants as fsConstants, lchownSync, linkSync, lstatSync, lutimesSync, mkdirSync, rmSync, type Stats, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EntryMeta as NativeMeta } from '../../../crates/native/binding.js';
import type { LayerView } from '../../image/layer-view.js';
import { native } from '../../native/index.js';
import { EntryBatcher } from '../../store/codec/entry-batch.js';
import type { Owner } from './options.js';

export interface EntryMeta {
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch (fractional). */
  mtime: number;
}

type Slot = 'dir' | 'file' | 'other';

const rel = (path: string): string => path.replace(/^\/+/, '');

function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

export function metaOfStat(st: Stats): EntryMeta {
  return { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtimeMs / 1000 };
}

/**
 * The crate's metadata for `m`, times truncated to microseconds exactly as
 * libuv's utimes does (uv__fs_to_timespec), so that a batched copy and a
 * synchronous one give a file the same mtime, and a layer the same diffID.
 */
function nativeMeta(m: EntryMeta): NativeMeta {
  let sec = Math.trunc(m.mtime);
  let nsec = Math.trunc((m.mtime - sec) * 1e9);
  nsec -= nsec % 1000;
  if (nsec < 0) { nsec += 1e9; sec -= 1; }
  return { uid: m.uid, gid: m.gid, mode: m.mode, mtimeSec: sec, mtimeNsec: nsec };
}

export class LayerOut {
  /** Canonical container path → what this step put there. */
  private readonly slots = new Map<string, Slot>();
  private readonly dirMeta = new Map<string, EntryMeta>();
  private readonly untrusted: string[] = [];
  private readonly now = Date.now() / 1000;
  readonly privileged = process.getuid?.() === 0;
  /** Who owns what this process creates (before any chown). */
  private readonly euid = process.geteuid?.() ?? 0;
  private readonly egid = process.getegid?.() ?? 0;

  /** Set while writes are batched; dropped (after draining) when an archive is unpacked here. */
  private batch: EntryBatcher | null;

  constructor(readonly layerDir: string, readonly view: LayerView, private readonly createdOwner: Owner, opts: { batched?: boolean } = {}) {
    this.slots.set('/', 'dir');
    this.batch = opts.batched ? new EntryBatcher(new (native().RootedDir)(layerDir, this.privileged), 'COPY') : null;
  }

  host(path: string): string {
    return join(this.layerDir, rel(path));
  }

  /** Metadata for a directory this step creates where the image has none. */
  createdDirMeta(): EntryMeta {
    return { mode: 0o755, uid: this.createdOwner.uid, gid: this.createdOwner.gid, mtime: this.now };
  }

  private isUntrusted(path: string): boolean {
    return this.untrusted.some((u) => path === u || path.startsWith(u === '/' ? '/' : `${u}/`));
  }

  /** Forget (and remove) whatever this step put at `path`. */
  private clear(path: string): void {
    const slot = this.slots.get(path);
    const h = this.host(path);
    if (slot === 'dir' || (slot === undefined && this.isUntrusted(path))) {
      if (!this.batch) rmSync(h, { recursive: true, force: true }); // a batched write replaces it itself
      const prefix = `${path}/`;
      for (const k of [...this.slots.keys()]) if (k === path || k.startsWith(prefix)) this.slots.delete(k);
      for (const k of [...this.dirMeta.keys()]) if (k === path || k.startsWith(prefix)) this.dirMeta.delete(k);
    } else if (slot !== undefined) {
      if (!this.batch) unlinkSync(h);
      this.slots.delete(path);
    }
  }

  /** Below an unpacked archive: is `path` a real directory (not a link)? Removes anything else. */
  private untrustedDirReady(path: string): boolean {
    let st: Stats | undefined;
    try {
      st = lstatSync(this.host(path));
    } catch {
      return false;
    }
    if (st.isDirectory()) return true;
    unlinkSync(this.host(path));
    return false;
  }

  /**
   * Make sure canonical `path` is a directory in the layer, creating missing
   * components. `meta` is for `path` itself when it is created; parents get
   * the image's metadata, or created-directory metadata.
   */
  ensureDir(path: string, meta?: EntryMeta): void {
    if (this.slots.get(path) === 'dir') return;
    if (path !== '/') this.ensureDir(parentOf(path));
    if (this.slots.has(path)) this.clear(path);
    if (this.isUntrusted(path) && this.untrustedDirReady(path)) {
      this.slots.set(path, 'dir');
      return;
    }
    if (this.batch) this.batch.mkdir(rel(path));
    else mkdirSync(this.host(path), { mode: 0o700 });
    this.slots.set(path, 'dir');
    const lower = this.view.lstat(path);
    this.dirMeta.set(path, meta ?? (lower?.isDirectory() ? metaOfStat(lower) : this.createdDirMeta()));
  }

  /** A copied directory: created if needed, and given the copied entry's metadata. */
  copiedDir(path: string, meta: EntryMeta): void {
    this.ensureDir(path, meta);
    this.dirMeta.set(path, meta); // also over an existing one: the copied entry's metadata wins
  }

  /** Prepare the slot for a non-directory at `path`; returns its host path (which does not exist). */
  private leaf(path: string, kind: 'file' | 'other'): string {
    this.ensureDir(parentOf(path));
    this.clear(path); // below an unpacked archive this removes whatever it left, links included
    this.slots.set(path, kind);
    return this.host(path);
  }

  /**
   * A regular file at `path` with the bytes of host file `source`. `hasMode`
   * is the source's mode (what a plain copy leaves), see applyMeta; without
   * it every piece of metadata is applied.
   */
  copyFile(path: string, source: string, meta: EntryMeta, hasMode?: number): void {
    const host = this.leaf(path, 'file');
    if (this.batch) {
      this.batch.fileCopy(rel(path), source, nativeMeta(meta));
      return;
    }
    copyFileSync(source, host, fsConstants.COPYFILE_EXCL);
    this.applyMeta(host, meta, false, hasMode);
  }

  /** A regular file at `path` holding `data`. */
  writeFile(path: string, data: string | Uint8Array, meta: EntryMeta): void {
    const host = this.leaf(path, 'file');
    if (this.batch) {
      this.batch.fileOpen(rel(path));
      const bytes = typeof data === 'string' ? Buffer.from(data) : data;
      if (bytes.length > 0) this.batch.fileData(bytes);
      this.batch.fileClose(nativeMeta(meta));
      return;
    }
    writeFileSync(host, data, { flag: 'wx' });
    this.applyMeta(host, meta, false);
  }

  symlink(path: string, target: string, meta: EntryMeta): void {
    const host = this.leaf(path, 'other');
    if (this.batch) {
      this.batch.symlink(rel(path), target, nativeMeta(meta));
      return;
    }
    symlinkSync(target, host);
    this.applyMeta(host, meta, true, meta.mode);
  }

  /** A hard link at `path` to `target`, a file this step wrote; false (nothing done) when it is not one. */
  hardlink(path: string, target: string): boolean {
    if (!this.isFile(target)) return false;
    const host = this.leaf(path, 'file');
    if (this.batch) this.batch.hardlink(rel(path), rel(target));
    else linkSync(this.host(target), host);
    return true;
  }

  /** A fifo or device node (the caller checked it may make one). */
  node(path: string, kind: 'fifo' | 'char' | 'block', major: number, minor: number, meta: EntryMeta): void {
    const host = this.leaf(path, 'other');
    if (this.batch) {
      this.batch.mknod(rel(path), kind, major, minor, nativeMeta(meta));
      return;
    }
    new (native().RootedDir)(this.layerDir, this.privileged).mknod(rel(path), kind, major, minor);
    this.applyMeta(host, meta, false);
  }

  /** Is `path` a regular file this step wrote (a valid hard-link target)? */
  isFile(path: string): boolean {
    return this.slots.get(path) === 'file';
  }

  /** Send a full batch on (waits only while the one before is still being applied). */
  async flushIfFull(): Promise<void> {
    await this.batch?.maybeFlush();
  }

  /** Everything written so far is on the file system (before a host path written here is read or removed). */
  async settle(): Promise<void> {
    await this.batch?.finish();
  }

  /**
   * An archive is about to be unpacked below `path`: its contents will be
   * unknown to the slot map. What was batched is applied first, and the
   * rest of the step writes synchronously, with the lstat checks below
   * untrusted directories.
   */
  async markUntrusted(path: string): Promise<void> {
    await this.settle();
    this.batch = null;
    this.untrusted.push(path);
  }

  /** After a failure: wait until nothing writes into the layer any more. */
  async abort(): Promise<void> {
    await this.batch?.abort();
  }

  /**
   * Owner, then mode (chown clears setuid bits), then times, without
   * following a link. `hasMode` is the mode a file this process just
   * created has (copyFile keeps the source's): when neither owner nor mode
   * must change, two syscalls per file are saved, which shows on
   * 20,000-file copies. Without it (directories, which an ADD archive's
   * `./` entry may have changed, links, nodes) everything is applied.
   */
  private applyMeta(hostPath: string, meta: EntryMeta, isLink: boolean, hasMode?: number): void {
    // Only an entry just created by this process (hasMode given) is known to be ours already.
    const chown = this.privileged && (hasMode === undefined || meta.uid !== this.euid || meta.gid !== this.egid);
    if (chown) lchownSync(hostPath, meta.uid, meta.gid);
    if (!isLink && (chown || hasMode !== meta.mode)) chmodSync(hostPath, meta.mode);
    lutimesSync(hostPath, meta.mtime, meta.mtime);
  }

  /** The directories whose metadata is deferred, deepest first. */
  private dirsDeepestFirst(): string[] {
    return [...this.dirMeta.keys()].sort((a, b) => b.split('/').length - a.split('/').length);
  }

  /** Apply deferred directory metadata, deepest first (synchronous writes only: see finishAll). */
  finish(): void {
    if (this.batch) throw new Error('LayerOut.finish on batched writes: use finishAll');
    for (const p of this.dirsDeepestFirst()) this.applyMeta(this.host(p), this.dirMeta.get(p) as EntryMeta, false);
    // The layer root's own metadata is not content (the tar has no entry for it).
  }

  /** finish() for either way of writing: directory metadata last, and every batch applied. */
  async finishAll(): Promise<void> {
    const batch = this.batch;
    if (!batch) { this.finish(); return; }
    for (const p of this.dirsDeepestFirst()) {
      batch.setMetadata(rel(p), nativeMeta(this.dirMeta.get(p) as EntryMeta));
      await batch.maybeFlush();
    }
    await batch.finish();
  }
}
