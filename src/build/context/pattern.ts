// Go's filepath.Match, which COPY/ADD source wildcards use one path segment
// at a time, compiled to anchored RegExps; and its syntax check, which
// moby/patternmatcher (ignore files, --exclude) runs on every pattern.
//
// The rules are Go's (path/filepath/match.go, go1.19 as Debian's docker and
// buildah are built with): `*` and `?` never match `/`; `[...]` is a class
// (`[^...]` negated) of single characters and `lo-hi` ranges, each side
// possibly `\`-escaped; a class needs at least one range, and a range may
// not start with `-` or `]` nor stop at the end of the pattern; a range
// whose `hi` is below its `lo` is legal and matches nothing; `\c` is a
// literal c, and a trailing `\` is an error. Patterns are compiled once and
// matched many times while walking a context, so translation to a RegExp is
// worth its small cost.
import { TsbuildError } from '../../errors.js';

const REGEX_SPECIAL = new Set(['.', '+', '(', ')', '|', '{', '}', '$', '^', '*', '?', '[', ']', '\\', '/']);
const CLASS_SPECIAL = new Set(['\\', ']', '[', '^', '-']);

function escapeChar(ch: string): string {
  return REGEX_SPECIAL.has(ch) ? `\\${ch}` : ch;
}

function escapeClassChar(ch: string): string {
  return CLASS_SPECIAL.has(ch) ? `\\${ch}` : ch;
}

export function badPattern(pattern: string): TsbuildError {
  return new TsbuildError('E_BAD_PATTERN', `invalid pattern "${pattern}": syntax error in pattern`);
}

/** Go's getEsc: one (possibly escaped) class character at chars[i]; it may not end the pattern. */
function classChar(chars: string[], i: number, pattern: string): { ch: string; next: number } {
  let ch = chars[i];
  if (ch === undefined || ch === '-' || ch === ']') throw badPattern(pattern);
  if (ch === '\\') {
    ch = chars[++i];
    if (ch === undefined) throw badPattern(pattern);
  }
  if (chars[i + 1] === undefined) throw badPattern(pattern);
  return { ch, next: i + 1 };
}

/** Translate a `[...]` class starting at chars[start] === '['; returns the regex text and the index after `]`. */
function translateClass(chars: string[], start: number, pattern: string): { re: string; next: number } {
  let i = start + 1;
  const negated = chars[i] === '^';
  if (negated) i++;
  const ranges: string[] = [];
  for (let n = 0; ; n++) {
    if (chars[i] === ']' && n > 0) break;
    const lo = classChar(chars, i, pattern);
    let hi = lo;
    i = lo.next;
    if (chars[i] === '-') {
      hi = classChar(chars, i + 1, pattern);
      i = hi.next;
    }
    // An inverted range is no error in Go; it matches nothing, so it adds nothing.
    if ((hi.ch.codePointAt(0) as number) >= (lo.ch.codePointAt(0) as number)) {
      ranges.push(hi === lo ? escapeClassChar(lo.ch) : `${escapeClassChar(lo.ch)}-${escapeClassChar(hi.ch)}`);
    }
  }
  const body = ranges.join('');
  // `[]` and `[^]` mean different things to JS; say "nothing" / "anything" directly.
  const re = body === '' ? (negated ? '[\\s\\S]' : '[^\\s\\S]') : `[${negated ? '^' : ''}${body}]`;
  return { re, next: i + 1 };
}

/** Regex source (unanchored) for a filepath.Match pattern; throws E_BAD_PATTERN where Go's Match would fail. */
function translate(pattern: string): string {
  const chars = Array.from(pattern);
  let re = '';
  for (let i = 0; i < chars.length; ) {
    const ch = chars[i] as string;
    if (ch === '*') {
      re += '[^/]*';
      i++;
    } else if (ch === '?') {
      re += '[^/]';
      i++;
    } else if (ch === '[') {
      const cls = translateClass(chars, i, pattern);
      re += cls.re;
      i = cls.next;
    } else if (ch === '\\') {
      const next = chars[i + 1];
      if (next === undefined) throw badPattern(pattern);
      re += escapeChar(next);
      i += 2;
    } else {
      re += escapeChar(ch);
      i++;
    }
  }
  return re;
}

/** Does the text contain filepath.Match metacharacters? */
export function hasWildcard(text: string): boolean {
  return /[*?[\\]/.test(text);
}

/** A compiled filepath.Match pattern for one path segment. */
export function compileSegment(pattern: string): RegExp {
  return new RegExp(`^${translate(pattern)}$`, 'su');
}

/**
 * Go's `filepath.Match(pattern, ".")` error: is the pattern well formed?
 * (Match checks the whole pattern even where the name stops matching.)
 */
export function checkGlobSyntax(pattern: string): void {
  translate(pattern);
}

/** Go's filepath.Clean for `/`-separated paths. */
export function cleanPath(path: string): string {
  const rooted = path.startsWith('/');
  const out: string[] = [];
  for (const c of path.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(c);
  }
  const body = out.join('/');
  if (rooted) return `/${body}`;
  return body === '' ? '.' : body;
}
