// .containerignore / .dockerignore: which context paths a build cannot see.
//
// Owns docker's reading of the file (buildkit's dockerignore.ReadAll: `#`
// comment lines, trimmed lines, `!` exceptions, patterns cleaned and made
// relative) and its matching rule (moby/patternmatcher's
// MatchesOrParentMatches: every pattern is tried in order and the last one
// that matches the path or one of its parent directories wins). The walker
// asks `mayIncludeBelow` before skipping an ignored directory, because an
// exception such as `!logs/keep.txt` can bring back a file inside it.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TsbuildError } from '../../errors.js';
import { cleanPath, compilePathPattern, compileSegment } from './pattern.js';

interface Rule {
  /** The cleaned pattern, without its `!`. */
  text: string;
  exception: boolean;
  re: RegExp;
}

/** The ignore files in the order docker-compatible builders look for them. */
export const IGNORE_FILES = ['.containerignore', '.dockerignore'] as const;

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

export class IgnoreMatcher {
  private readonly rules: Rule[];
  /** True when some `!` rule exists: ignored directories may then hold included files. */
  readonly hasExceptions: boolean;

  constructor(patterns: readonly string[], readonly source = '.dockerignore') {
    this.rules = patterns.map((p) => {
      const exception = p.startsWith('!');
      const text = exception ? p.slice(1) : p;
      if (text === '') throw new TsbuildError('E_BAD_IGNORE', `${source}: illegal exclusion pattern: "!"`);
      try {
        return { text, exception, re: compilePathPattern(text) };
      } catch (err) {
        throw new TsbuildError('E_BAD_IGNORE', `${source}: ${(err as Error).message}`, { cause: err });
      }
    });
    this.hasExceptions = this.rules.some((r) => r.exception);
  }

  get empty(): boolean {
    return this.rules.length === 0;
  }

  /** Is the context-relative path (`a/b`, no leading slash) ignored? */
  ignores(relPath: string): boolean {
    if (this.rules.length === 0) return false;
    const path = cleanPath(relPath);
    const parts = path.split('/');
    let matched = false;
    for (const rule of this.rules) {
      // Only a rule that can change the answer needs evaluating.
      if (rule.exception !== matched) continue;
      if (matchesSelfOrParent(rule.re, parts)) matched = !rule.exception;
    }
    return matched;
  }

  /**
   * Could some exception rule match a path below the (ignored) directory
   * `relDir`? If not, the walker can skip it without looking inside.
   */
  mayIncludeBelow(relDir: string): boolean {
    if (!this.hasExceptions) return false;
    const dirParts = cleanPath(relDir).split('/');
    return this.rules.some((r) => r.exception && couldMatchBelow(r.text, dirParts));
  }
}

function matchesSelfOrParent(re: RegExp, parts: string[]): boolean {
  let prefix = '';
  for (let i = 0; i < parts.length; i++) {
    prefix = i === 0 ? (parts[0] as string) : `${prefix}/${parts[i] as string}`;
    if (re.test(prefix)) return true;
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

/**
 * Load the context's ignore rules: `.containerignore` wins over
 * `.dockerignore`; undefined when the context has neither.
 */
export function loadIgnore(contextDir: string): IgnoreMatcher | undefined {
  for (const name of IGNORE_FILES) {
    const p = join(contextDir, name);
    if (existsSync(p)) return new IgnoreMatcher(parseIgnoreFile(readFileSync(p, 'utf8')), name);
  }
  return undefined;
}
