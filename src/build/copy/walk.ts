// Walking a copied directory: every entry below it, depth first, names
// sorted (so the cache digest is stable), with the context's ignore rules
// and the step's --exclude patterns applied. Links found here are entries,
// never followed.
//
// An ignored or excluded directory is skipped whole unless an exception
// rule could match inside it; then it is entered, and emitted only if
// something inside it survives (docker creates such a directory only to
// hold what was brought back).
import type { Stats } from 'node:fs';
import type { IgnoreMatcher } from '../context/ignore.js';
import { type EntryKind, entryKind, type EntryStat, type SourceTree } from './types.js';

export interface WalkEntry<S extends EntryStat = Stats> {
  /** Relative to the walked directory's placement (`a/b`), including any --parents prefix. */
  rel: string;
  /** Canonical path in the source tree. */
  path: string;
  stat: S;
  kind: EntryKind;
}

const childPath = (dir: string, name: string): string => (dir === '/' ? `/${name}` : `${dir}/${name}`);

/** A directory's entries, sorted by name, each with its lstat (undefined: vanished meanwhile). */
type Lister<S> = (dir: string) => Iterable<[string, S | undefined]>;

export class TreeWalker {
  constructor(private readonly tree: SourceTree, private readonly exclude: IgnoreMatcher | null) {}

  /** Is this (non-directory or directory) entry dropped by --exclude? */
  excluded(rel: string): boolean {
    return this.exclude !== null && this.exclude.ignores(rel);
  }

  /** Entries below `dir` with full Stats (COPY itself); `relPrefix` is prepended to their relative paths. */
  walk(dir: string, relPrefix: string): Generator<WalkEntry> {
    return this.walkWith(dir, relPrefix, (d) => this.tree.readdir(d).map((name) => [name, this.tree.lstat(childPath(d, name))]));
  }

  /**
   * The same entries with the fields the cache key reads, listed a
   * directory per call where the tree can (SourceTree.list): the context
   * check of every build, cached or not.
   */
  walkListed(dir: string, relPrefix: string): Generator<WalkEntry<EntryStat>> {
    return this.walkWith<EntryStat>(dir, relPrefix, (d) => this.tree.list?.(d) ?? this.tree.readdir(d).map((name) => [name, this.tree.lstat(childPath(d, name))]));
  }

  private *walkWith<S extends EntryStat>(dir: string, relPrefix: string, list: Lister<S>): Generator<WalkEntry<S>> {
    for (const [name, stat] of list(dir)) {
      if (!stat) continue; // vanished meanwhile
      const path = childPath(dir, name);
      const kind = entryKind(stat);
      if (!kind) continue;
      const rel = relPrefix === '' ? name : `${relPrefix}/${name}`;
      const ignored = this.tree.ignored(path);
      const excluded = this.excluded(rel);
      if (!ignored && !excluded) {
        yield { rel, path, stat, kind };
        if (kind === 'dir') yield* this.walkWith(path, rel, list);
        continue;
      }
      if (kind !== 'dir') continue;
      const reachable = (!ignored || this.tree.mayIncludeBelow(path)) && (!excluded || (this.exclude as IgnoreMatcher).mayIncludeBelow(rel));
      if (!reachable) continue;
      // Buffer the (rare) partially included directory: emit it only if something inside survives.
      const inner = [...this.walkWith(path, rel, list)];
      if (inner.length === 0) continue;
      yield { rel, path, stat, kind };
      yield* inner;
    }
  }
}
