// The two places COPY reads from, behind one SourceTree interface.
//
// ContextTree is a host directory that the build must not see out of: a
// named source whose path (`../x`) or links (a symlinked directory pointing
// to /etc, an absolute link target) lead outside it is an error, not a
// clamp, because the user asked for a file the context does not hold.
// LayerTree is another stage's or image's layer stack (`COPY --from`), where
// links resolve inside that root as they would in a container.
import { lstatSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { resolveInRoot, type LayerView } from '../../image/layer-view.js';
import { stackView } from '../../image/stack-view.js';
import type { IgnoreMatcher } from '../context/ignore.js';
import { type CopyStep, type EntryStat, type SourceTree, stepError } from './types.js';
import { listDir } from './listing.js';

const rel = (path: string): string => path.replace(/^\/+/, '');

export class ContextTree implements SourceTree {
  readonly kind = 'context' as const;

  /** `dir` without trailing slashes, so that a canonical path can be appended to it. */
  private readonly base: string;

  constructor(private readonly dir: string, private readonly step: CopyStep, private readonly ignore?: IgnoreMatcher) {
    this.base = dir.replace(/\/+$/, '');
  }

  resolve(path: string, followFinal: boolean): string {
    return resolveInRoot(this, path, {
      followFinal,
      absoluteEscapes: true,
      onEscape: () => {
        throw stepError(this.step, 'E_SOURCE_OUTSIDE_CONTEXT', `forbidden path outside the build context: ${rel(path) || path}`);
      },
    });
  }

  lstat(path: string): Stats | undefined {
    try {
      return lstatSync(this.hostPath(path));
    } catch {
      return undefined;
    }
  }

  readdir(path: string): string[] {
    return readdirSync(this.hostPath(path)).sort();
  }

  list(path: string): Array<[string, EntryStat]> | undefined {
    return listDir(this.hostPath(path));
  }

  readlink(path: string): string {
    return readlinkSync(this.hostPath(path), 'utf8');
  }

  hostPath(path: string): string {
    // The walk's paths are canonical (`/a/b`): appending them is what join
    // would give, without its normalising pass over every entry's path.
    if (path.startsWith('/') && this.base !== '' && !path.includes('//') && !path.includes('/.') && !path.endsWith('/')) return this.base + path;
    return join(this.dir, rel(path));
  }

  ignored(path: string): boolean {
    if (this.ignore === undefined) return false;
    const r = rel(path);
    return r !== '' && this.ignore.ignores(r);
  }

  mayIncludeBelow(path: string): boolean {
    return this.ignore?.mayIncludeBelow(rel(path)) ?? false;
  }

  hidden(path: string, st: Stats): boolean {
    const r = rel(path);
    return r !== '' && this.ignore !== undefined && this.ignore.hides(r, st.isDirectory());
  }

  get ignoreFile(): string | undefined {
    return this.ignore?.source;
  }
}

export class LayerTree implements SourceTree {
  readonly kind = 'layers' as const;

  constructor(readonly view: LayerView) {}

  resolve(path: string, followFinal: boolean): string {
    return this.view.resolve(path, { followFinal });
  }

  lstat(path: string): Stats | undefined {
    return this.view.lstat(path);
  }

  readdir(path: string): string[] {
    return this.view.readdir(path);
  }

  readlink(path: string): string {
    return this.view.readlink(path);
  }

  hostPath(path: string): string {
    const p = this.view.hostPath(path);
    if (p === undefined) throw new Error(`no such file in the source image: ${path}`);
    return p;
  }

  ignored(): boolean {
    return false;
  }

  mayIncludeBelow(): boolean {
    return false;
  }

  hidden(): boolean {
    return false;
  }

  readonly ignoreFile = undefined;
}

export function sourceTree(step: CopyStep): SourceTree {
  const src = step.source;
  return src.kind === 'context' ? new ContextTree(src.dir, step, step.ignore) : new LayerTree(stackView(src.layerDirs));
}
