// .containerignore / .dockerignore: which context paths a build cannot see.
//
// Owns which ignore file a build uses, docker's reading of it (moby's
// ignorefile.ReadAll: `#` comment lines, trimmed lines, `!` exceptions,
// patterns cleaned and made relative), and its matching rule
// (patternmatcher's MatchesOrParentMatches: every pattern is tried in
// order, and the last one that matches the path or one of its parent
// directories wins). Patterns themselves are ignore-pattern.ts.
//
// The walker asks `mayIncludeBelow` before skipping an ignored directory.
// For the context the answer is the one the docker CLI's context walk
// (tonistiigi/fsutil as dockerd/docker 20.10 ship it) gives, and buildah 1.28
// agrees: an ignored directory is entered only when some exception pattern,
// as a string, starts with the directory's path and a `/`. So `!logs/keep`
// reaches into an ignored `logs`, but `!*/keep` or `!**/keep` does not (the
// `*` then only brings back paths in directories that are not ignored).
// Later fsutil (2021-12 on, in BuildKit >= 0.10 clients) enters every ignored
// directory as soon as any exception has a wildcard; the oracles here do not.
// `COPY --exclude` keeps the looser answer (an exception could match below,
// segment by segment): docker 20.10 and buildah 1.28 have no --exclude.
//
// Where BuildKit 20.10's walk differs from buildah 1.28 and from later
// BuildKit, we follow the later ones: it also emits an entered directory
// when nothing inside it survives (buildah does not create it), and it
// checks a path inside an entered directory against only one of its
// parents (the deprecated patternmatcher Matches), so `**/x` +
// `!a/b/x/keep` lets it send a/b/x/other; both were fixed in fsutil in 2021.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TsbuildError } from '../../errors.js';
import { compileIgnorePattern } from './ignore-pattern.js';
import { checkGlobSyntax, cleanPath, compileSegment } from './pattern.js';

interface Rule {
  /** The cleaned pattern, without its `!`. */
  text: string;
  exception: boolean;
  match: (path: string) => boolean;
}

/** The context's ignore files in the order docker-compatible builders look for them. */
export const IGNORE_FILES = ['.containerignore', '.dockerignore'] as const;

/**
 * The per-Containerfile ignore files, `<file>.dockerignore` first: with both
 * next to the file, BuildKit (which knows only this one) and buildah 1.28
 * use `.dockerignore`.
 */
export const FILE_IGNORE_SUFFIXES = ['.dockerignore', '.containerignore'] as const;

/** Parse an ignore file's text into cleaned patterns (exceptions keep their `!`). */
export function parseIgnoreFile(text: string): string[] {
  const out: string[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (const raw of lines) {
    if (raw.startsWith('#')) continue;
    let pattern = raw.trim();
    if (pattern === '') continue;
    const exception = pattern.startsWith('!');
    if (exception) pattern = pattern.slice(1).trim();
    if (pattern !== '') {
      pattern = cleanPath(pattern);
      if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
    }
    out.push(exception ? `!${pattern}` : pattern);
  }
  return out;
}

/** How far an exception reaches into an ignored directory (see the header). */
export type ExceptionReach = 'prefix' | 'pattern';

export class IgnoreMatcher {
  private readonly rules: Rule[];
  /** True when some `!` rule exists: ignored directories may then hold included files. */
  readonly hasExceptions: boolean;

  /**
   * `patterns` as ReadAll gives them; `source` names the file in messages.
   * Each is trimmed and cleaned again, as patternmatcher.New does.
   */
  constructor(patterns: readonly string[], readonly source = '.dockerignore', private readonly reach: ExceptionReach = 'prefix') {
    this.rules = [];
    for (const raw of patterns) {
      let p = raw.trim();
      if (p === '') continue;
      p = cleanPath(p);
      const exception = p.startsWith('!');
      const text = exception ? p.slice(1) : p;
      if (exception && text === '') throw new TsbuildError('E_BAD_IGNORE', `${source}: illegal exclusion pattern: "!"`);
      try {
        checkGlobSyntax(text);
        this.rules.push({ text, exception, match: compileIgnorePattern(text) });
      } catch (err) {
        throw new TsbuildError('E_BAD_IGNORE', `${source}: ${(err as Error).message}`, { cause: err });
      }
    }
    this.hasExceptions = this.rules.some((r) => r.exception);
  }

  get empty(): boolean {
    return this.rules.length === 0;
  }

  /** Is the context-relative path (`a/b`, no leading slash) ignored? */
  ignores(relPath: string): boolean {
    if (this.rules.length === 0) return false;
    const path = cleanPath(relPath);
    if (path === '.') return false; // the context root itself is never ignored
    const parts = path.split('/');
    let matched = false;
    for (const rule of this.rules) {
      // Only a rule that can change the answer needs evaluating.
      if (rule.exception !== matched) continue;
      if (matchesSelfOrParent(rule.match, path, parts)) matched = !rule.exception;
    }
    return matched;
  }

  /**
   * Is the path absent from the context as the build sees it? It is when it
   * is ignored (unless it is a directory an exception reaches into), or when
   * a parent directory is ignored and no exception reaches into that: the
   * walk never looks there, so an exception whose first segment is a
   * wildcard cannot bring back `ignored-dir/x`, even when it is named.
   */
  hides(relPath: string, isDir: boolean): boolean {
    if (this.rules.length === 0) return false;
    const parts = cleanPath(relPath).split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (this.ignores(dir) && !this.mayIncludeBelow(dir)) return true;
    }
    return this.ignores(relPath) && !(isDir && this.mayIncludeBelow(relPath));
  }

  /**
   * Could some exception rule bring back a path below the (ignored)
   * directory `relDir`? If not, the walker skips it without looking inside.
   */
  mayIncludeBelow(relDir: string): boolean {
    if (!this.hasExceptions) return false;
    const dir = cleanPath(relDir);
    if (this.reach === 'prefix') {
      const dirSlash = `${dir}/`;
      return this.rules.some((r) => r.exception && `${r.text}/`.startsWith(dirSlash));
    }
    const dirParts = dir.split('/');
    return this.rules.some((r) => r.exception && couldMatchBelow(r.text, dirParts));
  }
}

/** MatchesOrParentMatches for one pattern: the path itself, or any of its parent directories. */
function matchesSelfOrParent(match: (p: string) => boolean, path: string, parts: string[]): boolean {
  if (match(path)) return true;
  let prefix = '';
  for (let i = 0; i < parts.length - 1; i++) {
    prefix = i === 0 ? (parts[0] as string) : `${prefix}/${parts[i] as string}`;
    if (match(prefix)) return true;
  }
  return false;
}

/** Segment-wise: does the pattern agree with every component of `dirParts` and go deeper? */
function couldMatchBelow(pattern: string, dirParts: string[]): boolean {
  const segs = pattern.split('/');
  for (let i = 0; i < dirParts.length; i++) {
    const seg = segs[i];
    if (seg === undefined) return true; // the pattern names an ancestor: everything below matches
    if (seg.includes('**')) return true;
    if (!compileSegment(seg).test(dirParts[i] as string)) return false;
  }
  return segs.length > dirParts.length;
}

/** Where the build reads its ignore rules from, and how messages name that file. */
export interface IgnoreFileChoice {
  path: string;
  display: string;
}

/**
 * Which ignore file applies: `<Containerfile>.dockerignore` or
 * `<Containerfile>.containerignore` next to the Containerfile wins over the
 * context's (BuildKit and buildah 1.28 both: the context's is then not read
 * at all); in the context `.containerignore` wins over `.dockerignore`.
 */
export function findIgnoreFile(contextDir: string, containerfile?: { path: string; display: string }): IgnoreFileChoice | undefined {
  if (containerfile !== undefined) {
    for (const suffix of FILE_IGNORE_SUFFIXES) {
      const p = `${containerfile.path}${suffix}`;
      if (existsSync(p)) return { path: p, display: `${containerfile.display}${suffix}` };
    }
  }
  for (const name of IGNORE_FILES) {
    const p = join(contextDir, name);
    if (existsSync(p)) return { path: p, display: name };
  }
  return undefined;
}

/** Load the build's ignore rules (see findIgnoreFile); undefined when there are none. */
export function loadIgnore(contextDir: string, containerfile?: { path: string; display: string }): IgnoreMatcher | undefined {
  const found = findIgnoreFile(contextDir, containerfile);
  if (found === undefined) return undefined;
  return new IgnoreMatcher(parseIgnoreFile(readFileSync(found.path, 'utf8')), found.display);
}
