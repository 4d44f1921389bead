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

// Node cannot read xattrs, and the native module reads them only while
// scanning a whole layer. Layers are immutable once built, so each is
// scanned once per process and its opaque directories remembered, keyed by
// the layer root's identity so that a new directory at the same path is
// scanned afresh.
const opaqueCache = new Map<string, { key: string; dirs: Set<string> }>();

function opaqueDirsOf(layerDir: string): Set<string> {
  const st = lstatSync(layerDir);
  const key = `${st.dev}:${st.ino}:${st.ctimeMs}`;
  const hit = opaqueCache.get(layerDir);
  if (hit && hit.key === key) return hit.dirs;
  const dirs = new Set<string>();
  for (const e of native().scanLayer(layerDir)) {
    if (e.kind !== 'dir' || !e.xattrs) continue;
    const x = e.xattrs.find((a) => a.name === 'trusted.overlay.opaque' || a.name === 'user.overlay.opaque');
    if (x && x.value.toString() === 'y') dirs.add(e.path);
  }
  opaqueCache.set(layerDir, { key, dirs });
  return dirs;
}

export const defaultOpaqueProbe: OpaqueProbe = (layerDir, relDir) => opaqueDirsOf(layerDir).has(relDir);

/** Where a visible entry lives: its layer and its host lstat. */
export interface ViewEntry {
  layer: number;
  hostPath: string;
  stat: Stats;
}

export class LayerView implements ResolvableTree {
  private readonly layers: readonly string[];
  private readonly opaque: OpaqueProbe;
  /** Canonical dir path → indices (top first) of the layers merged into it. */
  private readonly dirCache = new Map<string, number[] | null>();

  constructor(layerDirs: readonly string[], opts: LayerViewOptions = {}) {
    this.layers = [...layerDirs];
    this.opaque = opts.opaque ?? defaultOpaqueProbe;
  }

  get layerDirs(): readonly string[] {
    return this.layers;
  }

  private host(layer: number, path: string): string {
    return join(this.layers[layer] as string, path);
  }

  private static hostLstat(p: string): Stats | undefined {
    try {
      return lstatSync(p);
    } catch {
      return undefined;
    }
  }

  /** The layers (top first) whose directories merge at canonical `path`, or null if it is not a directory. */
  private dirLayers(path: string): number[] | null {
    const cached = this.dirCache.get(path);
    if (cached !== undefined) return cached;
    let result: number[] | null;
    if (path === '/') {
      result = this.layers.map((_, i) => this.layers.length - 1 - i);
    } else {
      const slash = path.lastIndexOf('/');
      const parent = this.dirLayers(slash === 0 ? '/' : path.slice(0, slash));
      result = parent && this.mergeDir(parent, path);
    }
    this.dirCache.set(path, result);
    return result;
  }

  private mergeDir(parentLayers: number[], path: string): number[] | null {
    const out: number[] = [];
    for (const i of parentLayers) {
      const st = LayerView.hostLstat(this.host(i, path));
      if (!st) continue;
      if (!st.isDirectory()) break; // a file or whiteout hides this name in every lower layer
      out.push(i);
      if (this.opaque(this.layers[i] as string, path.slice(1))) break;
    }
    return out.length > 0 ? out : null;
  }

  /** The visible entry at canonical `path` (symlinks in it are not followed), or undefined. */
  entry(path: string): ViewEntry | undefined {
    const clean = joinComponents(pathComponents(path).filter((c) => c !== '..'));
    if (clean === '/') {
      const top = this.layers.length - 1;
      if (top < 0) return undefined;
      const hostPath = this.layers[top] as string;
      return { layer: top, hostPath, stat: lstatSync(hostPath) };
    }
    const slash = clean.lastIndexOf('/');
    const parent = this.dirLayers(slash === 0 ? '/' : clean.slice(0, slash));
    if (!parent) return undefined;
    for (const i of parent) {
      const hostPath = this.host(i, clean);
      const st = LayerView.hostLstat(hostPath);
      if (!st) continue;
      if (isWhiteout(st)) return undefined;
      return { layer: i, hostPath, stat: st };
    }
    return undefined;
  }

  /** lstat in the merged view: the topmost visible entry's metadata. */
  lstat(path: string): Stats | undefined {
    return this.entry(path)?.stat;
  }

  /** Merged names of a directory (whiteouts removed, opaque dirs honoured), sorted; [] if not a directory. */
  readdir(path: string): string[] {
    const clean = joinComponents(pathComponents(path));
    const layers = this.dirLayers(clean);
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
