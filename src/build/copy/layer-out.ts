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
import { chmodSync, lchownSync, lstatSync, lutimesSync, mkdirSync, rmSync, type Stats, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { LayerView } from '../../image/layer-view.js';
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

  constructor(readonly layerDir: string, readonly view: LayerView, private readonly createdOwner: Owner) {
    this.slots.set('/', 'dir');
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
      rmSync(h, { recursive: true, force: true });
      const prefix = `${path}/`;
      for (const k of [...this.slots.keys()]) if (k === path || k.startsWith(prefix)) this.slots.delete(k);
      for (const k of [...this.dirMeta.keys()]) if (k === path || k.startsWith(prefix)) this.dirMeta.delete(k);
    } else if (slot !== undefined) {
      unlinkSync(h);
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
    mkdirSync(this.host(path), { mode: 0o700 });
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
  leaf(path: string, kind: 'file' | 'other'): string {
    this.ensureDir(parentOf(path));
    this.clear(path); // below an unpacked archive this removes whatever it left, links included
    this.slots.set(path, kind);
    return this.host(path);
  }

  /** Is `path` a regular file this step wrote (a valid hard-link target)? */
  isFile(path: string): boolean {
    return this.slots.get(path) === 'file';
  }

  /** An archive was unpacked below `path`: its contents are unknown to the slot map. */
  markUntrusted(path: string): void {
    this.untrusted.push(path);
  }

  /**
   * Owner, then mode (chown clears setuid bits), then times, without
   * following a link. `hasMode` is the mode a file this process just
   * created has (copyFile keeps the source's): when neither owner nor mode
   * must change, two syscalls per file are saved, which shows on
   * 20,000-file copies. Without it (directories, which an ADD archive's
   * `./` entry may have changed, links, nodes) everything is applied.
   */
  applyMeta(hostPath: string, meta: EntryMeta, isLink: boolean, hasMode?: number): void {
    // Only an entry just created by this process (hasMode given) is known to be ours already.
    const chown = this.privileged && (hasMode === undefined || meta.uid !== this.euid || meta.gid !== this.egid);
    if (chown) lchownSync(hostPath, meta.uid, meta.gid);
    if (!isLink && (chown || hasMode !== meta.mode)) chmodSync(hostPath, meta.mode);
    lutimesSync(hostPath, meta.mtime, meta.mtime);
  }

  /** Apply deferred directory metadata, deepest first. */
  finish(): void {
    const paths = [...this.dirMeta.keys()].sort((a, b) => b.split('/').length - a.split('/').length);
    for (const p of paths) this.applyMeta(this.host(p), this.dirMeta.get(p) as EntryMeta, false);
    // The layer root's own metadata is not content (the tar has no entry for it).
  }
}
