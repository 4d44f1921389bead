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
import { type EntryKind, entryKind, type SourceTree } from './types.js';

export interface WalkEntry {
  /** Relative to the walked directory's placement (`a/b`), including any --parents prefix. */
  rel: string;
  /** Canonical path in the source tree. */
  path: string;
  stat: Stats;
  kind: EntryKind;
}

const childPath = (dir: string, name: string): string => (dir === '/' ? `/${name}` : `${dir}/${name}`);

export class TreeWalker {
  constructor(private readonly tree: SourceTree, private readonly exclude: IgnoreMatcher | null) {}

  /** Is this (non-directory or directory) entry dropped by --exclude? */
  excluded(rel: string): boolean {
    return this.exclude !== null && this.exclude.ignores(rel);
  }

  /** Entries below `dir`; `relPrefix` is prepended to their relative paths. */
  *walk(dir: string, relPrefix: string): Generator<WalkEntry> {
    for (const name of this.tree.readdir(dir)) {
      const path = childPath(dir, name);
      const stat = this.tree.lstat(path);
      if (!stat) continue; // vanished meanwhile
      const kind = entryKind(stat);
      if (!kind) continue;
      const rel = relPrefix === '' ? name : `${relPrefix}/${name}`;
      const ignored = this.tree.ignored(path);
      const excluded = this.excluded(rel);
      if (!ignored && !excluded) {
        yield { rel, path, stat, kind };
        if (kind === 'dir') yield* this.walk(path, rel);
        continue;
      }
      if (kind !== 'dir') continue;
      const reachable = (!ignored || this.tree.mayIncludeBelow(path)) && (!excluded || (this.exclude as IgnoreMatcher).mayIncludeBelow(rel));
      if (!reachable) continue;
      // Buffer the (rare) partially included directory: emit it only if something inside survives.
      const inner = [...this.walk(path, rel)];
      if (inner.length === 0) continue;
      yield { rel, path, stat, kind };
      yield* inner;
    }
  }
}
