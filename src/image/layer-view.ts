// A read-only merged view of an overlay layer stack, without mounting it.
//
// Owns two things the build needs before (or instead of) a container runs:
// looking paths up in the stack exactly as overlayfs would merge it, and
// resolving symlinks the way openat2(RESOLVE_IN_ROOT) does, so that a
// link in an image can never lead the build to a host path. COPY uses it to
// place its destination (`/usr/local/bin` may be a link), `COPY --from`
// reads another stage's files through it, and `--chown` reads the image's
// /etc/passwd with it.
//
// Overlay rules applied here (layers are bottom first, as lowerdirs are
// stacked): the topmost layer that has a name decides what it is; a whiteout
// (a 0/0 character device) there means "absent"; a directory merges with
// directories of the same path below it until a layer where that path is not
// a directory, or an opaque directory (xattr trusted.overlay.opaque=y),
// which hides everything below. Host symlinks are never followed: every host
// call is an lstat/readdir/readlink of a path built from clean components.
import { lstatSync, readdirSync, readFileSync, readlinkSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { TsbuildError } from '../errors.js';
import { native } from '../native/index.js';

/** Linux's limit on symlinks followed in one lookup (MAXSYMLINKS). */
export const MAX_SYMLINK_HOPS = 40;

export interface ResolveOptions {
  /** Follow a symlink in the last component too (stat vs lstat). */
  followFinal: boolean;
}

/** What a resolver needs from a tree: lstat and readlink of clean absolute paths. */
export interface ResolvableTree {
  lstat(path: string): Stats | undefined;
  readlink(path: string): string;
}

export interface ResolveInRootOptions extends ResolveOptions {
  /**
   * Called when a path or link would leave the root (`..` above it, or an
   * absolute link target when `absoluteEscapes`). Without it, `..` clamps
   * at the root and absolute targets restart from the root, as in a container.
   */
  onEscape?: (path: string) => never;
  /** Treat an absolute link target as leaving the root (for host trees such as a build context). */
  absoluteEscapes?: boolean;
}

/** Clean components of a path: empty and `.` dropped, `..` kept. */
export function pathComponents(path: string): string[] {
  return path.split('/').filter((c) => c !== '' && c !== '.');
}

/** A canonical absolute path (`/a/b`) from components. */
export function joinComponents(parts: readonly string[]): string {
  return `/${parts.join('/')}`;
}

/**
 * Resolve `path` inside the tree's root, following symlinks found in it as
 * RESOLVE_IN_ROOT does. Missing components are kept lexically, so the result
 * names where a new entry would go. Throws E_SYMLINK_LOOP after 40 links.
 */
export function resolveInRoot(tree: ResolvableTree, path: string, opts: ResolveInRootOptions): string {
  const done: string[] = [];
  const todo = pathComponents(path).reverse();
  let hops = 0;
  while (todo.length > 0) {
    const c = todo.pop() as string;
    if (c === '..') {
      if (done.length === 0) opts.onEscape?.(path);
      done.pop();
      continue;
    }
    done.push(c);
    const isFinal = todo.length === 0;
    if (isFinal && !opts.followFinal) break;
    const here = joinComponents(done);
    const st = tree.lstat(here);
    if (!st?.isSymbolicLink()) continue;
    if (++hops > MAX_SYMLINK_HOPS) {
      throw new TsbuildError('E_SYMLINK_LOOP', `too many levels of symbolic links resolving ${path}`);
    }
    const target = tree.readlink(here);
    done.pop();
    if (target.startsWith('/')) {
      if (opts.absoluteEscapes) opts.onEscape?.(path);
      done.length = 0;
    }
    todo.push(...pathComponents(target).reverse());
  }
  return joinComponents(done);
}

/** Is this lstat result an overlay whiteout? */
export function isWhiteout(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

/** Decides whether `relDir` (no leading slash) in `layerDir` is an opaque directory. */
export type OpaqueProbe = (layerDir: string, relDir: string) => boolean;

export interface LayerViewOptions {
  /** How opacity is read; the default reads trusted.overlay.opaque through the native module. */
  opaque?: OpaqueProbe;
}

/** lstat without the cost of an exception for a missing name (most probes of a deep stack miss). */
function hostLstat(p: string): Stats | undefined {
  try {
    return lstatSync(p, { throwIfNoEntry: false });
  } catch {
    return undefined; // ENOTDIR and the like: absent too
  }
}

// Node cannot read xattrs: the probe asks the native module for the one
// attribute of the one directory. LayerView asks only when a lookup falls
// through to a lower layer, so most lookups never read an xattr at all.
function isOpaqueDir(layerDir: string, relDir: string): boolean {
  const path = join(layerDir, relDir);
  for (const name of ['trusted.overlay.opaque', 'user.overlay.opaque']) {
    if (native().readXattr(path, name)?.toString() === 'y') return true;
  }
  return false;
}

export const defaultOpaqueProbe: OpaqueProbe = isOpaqueDir;

/** Where a visible entry lives: its layer and its host lstat. */
export interface ViewEntry {
  layer: number;
  hostPath: string;
  stat: Stats;
}

export class LayerView implements ResolvableTree {
  private readonly layers: readonly string[];
  private readonly opaque: OpaqueProbe;
  /**
   * Canonical dir path → indices (top first) of the layers holding a
   * directory there, found by lstat alone: merging stops at a layer where
   * the name is not a directory. Opacity is applied lazily (isVisible),
   * because reading xattrs is the expensive part and most lookups are
   * answered by the topmost layer, where no opacity can matter.
   */
  private readonly dirCache = new Map<string, number[] | null>();
  private readonly opaqueCache = new Map<string, boolean>();
  /**
   * The view of every layer but the top one, when this view was made by
   * `over`: lookups that fall through the top layer are answered (and
   * cached) there, so a build step on a deep stack probes its one new
   * layer instead of all of them. Layer indices are bottom first, so the
   * two views number the shared layers alike.
   */
  private below: LayerView | undefined = undefined;
  /** entry() results of a view made by `over` (its layers never change). */
  private readonly entryCache = new Map<string, ViewEntry | undefined>();

  constructor(layerDirs: readonly string[], opts: LayerViewOptions = {}) {
    this.layers = [...layerDirs];
    this.opaque = opts.opaque ?? defaultOpaqueProbe;
  }

  /** `below`'s layers with `top` stacked on them, sharing what `below` has already looked up. */
  static over(below: LayerView, top: string): LayerView {
    const v = new LayerView([...below.layers, top], { opaque: below.opaque });
    v.below = below;
    return v;
  }

  get layerDirs(): readonly string[] {
    return this.layers;
  }

  private host(layer: number, path: string): string {
    return join(this.layers[layer] as string, path);
  }

  private static parentPath(path: string): string {
    const slash = path.lastIndexOf('/');
    return slash <= 0 ? '/' : path.slice(0, slash);
  }

  /** Layers (top first) with a directory at canonical `path`, before opacity; null if none. */
  private dirLayers(path: string): number[] | null {
    const cached = this.dirCache.get(path);
    if (cached !== undefined) return cached;
    let result: number[] | null;
    if (this.below) {
      result = this.dirLayersOver(this.below, path);
    } else if (path === '/') {
      result = this.layers.map((_, i) => this.layers.length - 1 - i);
    } else {
      const parent = this.dirLayers(LayerView.parentPath(path));
      result = null;
      if (parent) {
        const out: number[] = [];
        for (const i of parent) {
          const st = hostLstat(this.host(i, path));
          if (!st) continue;
          if (!st.isDirectory()) break; // a file or whiteout hides this name in every lower layer
          out.push(i);
        }
        result = out.length > 0 ? out : null;
      }
    }
    this.dirCache.set(path, result);
    return result;
  }

  /** dirLayers of a view made by `over`: the top layer decides first, `below` for the rest. */
  private dirLayersOver(below: LayerView, path: string): number[] | null {
    const top = this.layers.length - 1;
    if (path === '/') return [top, ...(below.dirLayers('/') ?? [])];
    const parent = this.dirLayers(LayerView.parentPath(path));
    if (!parent) return null;
    // The top layer lacks the parent directory: it cannot hide anything here.
    if (parent[0] !== top) return below.dirLayers(path);
    const st = hostLstat(this.host(top, path));
    if (st && !st.isDirectory()) return null; // a file or whiteout on top hides every lower directory
    const rest = below.dirLayers(path) ?? [];
    const out = st ? [top, ...rest] : rest;
    return out.length > 0 ? out : null;
  }

  private isOpaque(layer: number, path: string): boolean {
    if (this.below && layer < this.layers.length - 1) return this.below.isOpaque(layer, path);
    const key = `${layer}:${path}`;
    let v = this.opaqueCache.get(key);
    if (v === undefined) {
      v = this.opaque(this.layers[layer] as string, path.slice(1));
      this.opaqueCache.set(key, v);
    }
    return v;
  }

  /**
   * Does layer `i`'s copy of directory `path` show through? Only when no
   * layer above it has that directory (or an ancestor) opaque. Layers are
   * probed only above `i`, so the topmost layer never costs a probe.
   */
  private isVisible(path: string, i: number): boolean {
    if (path === '/') return true;
    const layers = this.dirLayers(path);
    if (!layers?.includes(i)) return false;
    // Ancestors first: an opaque directory higher up answers for everything below it.
    if (!this.isVisible(LayerView.parentPath(path), i)) return false;
    for (const j of layers) {
      if (j === i) break;
      if (this.isOpaque(j, path)) return false;
    }
    return true;
  }

  /** The layers (top first) whose directories at `path` merge into what the view shows. */
  private visibleDirLayers(path: string): number[] | null {
    const layers = this.dirLayers(path);
    if (!layers) return null;
    const out = layers.filter((i) => this.isVisible(path, i));
    return out.length > 0 ? out : null;
  }

  /** The visible entry at canonical `path` (symlinks in it are not followed), or undefined. */
  entry(path: string): ViewEntry | undefined {
    const clean = joinComponents(pathComponents(path).filter((c) => c !== '..'));
    if (this.below && clean !== '/') {
      if (this.entryCache.has(clean)) return this.entryCache.get(clean);
      const e = this.entryOver(this.below, clean);
      this.entryCache.set(clean, e);
      return e;
    }
    if (clean === '/') {
      const top = this.layers.length - 1;
      if (top < 0) return undefined;
      const hostPath = this.layers[top] as string;
      return { layer: top, hostPath, stat: lstatSync(hostPath) };
    }
    const parentPath = LayerView.parentPath(clean);
    const parent = this.dirLayers(parentPath);
    if (!parent) return undefined;
    for (const i of parent) {
      const hostPath = this.host(i, clean);
      const st = hostLstat(hostPath);
      if (!st) continue;
      // Found in layer i: it shows only if i's parent directory does.
      if (!this.isVisible(parentPath, i) || isWhiteout(st)) return undefined;
      return { layer: i, hostPath, stat: st };
    }
    return undefined;
  }

  /** entry() of a view made by `over`: the top layer's own entry, else `below`'s unless the top hides it. */
  private entryOver(below: LayerView, clean: string): ViewEntry | undefined {
    const top = this.layers.length - 1;
    const parentPath = LayerView.parentPath(clean);
    const parent = this.dirLayers(parentPath);
    if (!parent) return undefined;
    if (parent[0] === top) {
      const hostPath = this.host(top, clean);
      const st = hostLstat(hostPath);
      if (st) return isWhiteout(st) ? undefined : { layer: top, hostPath, stat: st };
    }
    // Not on top: lower layers show through unless the top's copy of an ancestor is opaque.
    for (let dir = parentPath; dir !== '/'; dir = LayerView.parentPath(dir)) {
      if (this.dirLayers(dir)?.[0] === top && this.isOpaque(top, dir)) return undefined;
    }
    return below.entry(clean);
  }

  /** lstat in the merged view: the topmost visible entry's metadata. */
  lstat(path: string): Stats | undefined {
    return this.entry(path)?.stat;
  }

  /**
   * The host dirs (top first) whose copies of directory `path` merge into
   * what the view shows there: an overlay of just these shows that subtree.
   * [] when `path` is not a visible directory.
   */
  mergedDirs(path: string): string[] {
    const clean = joinComponents(pathComponents(path));
    return (this.visibleDirLayers(clean) ?? []).map((i) => this.host(i, clean));
  }

  /** Merged names of a directory (whiteouts removed, opaque dirs honoured), sorted; [] if not a directory. */
  readdir(path: string): string[] {
    const clean = joinComponents(pathComponents(path));
    const layers = this.visibleDirLayers(clean);
    if (!layers) return [];
    const seen = new Map<string, boolean>();
    for (const i of layers) {
      const dir = this.host(i, clean);
      for (const d of readdirSync(dir, { withFileTypes: true })) {
        if (seen.has(d.name)) continue;
        const hidden = d.isCharacterDevice() && isWhiteout(lstatSync(join(dir, d.name)));
        seen.set(d.name, !hidden);
      }
    }
    return [...seen].filter(([, visible]) => visible).map(([name]) => name).sort();
  }

  /** The target of a symlink in the merged view, verbatim. */
  readlink(path: string): string {
    const e = this.entry(path);
    if (!e?.stat.isSymbolicLink()) throw new TsbuildError('E_NOT_SYMLINK', `${path} is not a symbolic link`);
    return readlinkSync(e.hostPath, 'utf8');
  }

  /** The host file behind canonical `path` (topmost layer that has it), or undefined. */
  hostPath(path: string): string | undefined {
    return this.entry(path)?.hostPath;
  }

  /** The canonical container path after following symlinks inside the root. */
  resolve(path: string, opts: ResolveOptions): string {
    return resolveInRoot(this, path, opts);
  }

  /** A file's text as the container would read it (links followed inside the root), or undefined. */
  readFile(path: string): string | undefined {
    const e = this.entry(this.resolve(path, { followFinal: true }));
    if (!e?.stat.isFile()) return undefined;
    return readFileSync(e.hostPath, 'utf8');
  }
}
