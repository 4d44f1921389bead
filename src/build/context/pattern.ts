// Path patterns as docker spells them, compiled to anchored RegExps.
//
// Two dialects share one translator:
// - Go's filepath.Match, used for COPY/ADD source wildcards one path segment
//   at a time: `*` and `?` never match `/`, `[...]` is a class (`[^...]`
//   negated, ranges allowed), `\c` is a literal c, and a malformed class is
//   an error rather than a literal.
// - moby/patternmatcher, used by .dockerignore/.containerignore and
//   `--exclude`: the same, plus `**`, which matches any number of whole
//   directories (`**/x`, `a/**/x`, and a trailing `a/**` for everything below).
// Patterns are compiled once and matched many times while walking a
// context, so translation to a RegExp is worth its small cost.
import { TsbuildError } from '../../errors.js';

const REGEX_SPECIAL = new Set(['.', '+', '(', ')', '|', '{', '}', '$', '^', '*', '?', '[', ']', '\\', '/']);

function escapeChar(ch: string): string {
  return REGEX_SPECIAL.has(ch) ? `\\${ch}` : ch;
}

export function badPattern(pattern: string): TsbuildError {
  return new TsbuildError('E_BAD_PATTERN', `invalid pattern "${pattern}": syntax error in pattern`);
}

/** Translate a `[...]` class starting at chars[i] === '['; returns the regex text and the index after `]`. */
function translateClass(chars: string[], start: number, pattern: string): { re: string; next: number } {
  let i = start + 1;
  let re = '[';
  if (chars[i] === '^') {
    re += '^';
    i++;
  }
  let count = 0;
  for (;;) {
    let ch = chars[i];
    if (ch === undefined) throw badPattern(pattern);
    if (ch === ']' && count > 0) break;
    if (ch === '\\') {
      ch = chars[++i];
      if (ch === undefined) throw badPattern(pattern);
    }
    re += ch === ']' || ch === '\\' || ch === '^' || ch === '[' ? `\\${ch}` : ch;
    i++;
    count++;
    if (chars[i] === '-' && chars[i + 1] !== ']' && chars[i + 1] !== undefined) {
      let hi = chars[i + 1] as string;
      i += 2;
      if (hi === '\\') {
        hi = chars[i++] as string;
        if (hi === undefined) throw badPattern(pattern);
      }
      if ((hi.codePointAt(0) as number) < (ch.codePointAt(0) as number)) throw badPattern(pattern);
      re += `-${hi === ']' || hi === '\\' || hi === '^' || hi === '[' ? `\\${hi}` : hi}`;
    }
  }
  return { re: `${re}]`, next: i + 1 };
}

/** Regex source (unanchored) for a pattern; `doubleStar` enables patternmatcher's `**`. */
function translate(pattern: string, doubleStar: boolean): string {
  const chars = Array.from(pattern);
  let re = '';
  for (let i = 0; i < chars.length; ) {
    const ch = chars[i] as string;
    if (ch === '*') {
      if (doubleStar && chars[i + 1] === '*') {
        i += 2;
        if (chars[i] === '/') i++; // `**/` is `**`: zero or more whole directories
        re += i >= chars.length ? '.*' : '(?:.*/)?';
        continue;
      }
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
  return new RegExp(`^${translate(pattern, false)}$`, 'su');
}

/** A compiled patternmatcher pattern for a whole `/`-separated relative path. */
export function compilePathPattern(pattern: string): RegExp {
  return new RegExp(`^${translate(pattern, true)}$`, 'su');
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
