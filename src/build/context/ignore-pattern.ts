// One moby/patternmatcher Pattern: the dialect of .dockerignore,
// .containerignore and `COPY --exclude`, which is not filepath.Match.
//
// Ported rule by rule from patternmatcher.go (Pattern.compile and
// Pattern.match), because its quirks are what users' ignore files were
// tested against:
// - A pattern without `*`, `?`, `[`, `]` or `\` is an exact string match
//   (so `^` and the regexp characters it escapes are literal).
// - A trailing `**` with nothing wild before it is a string prefix match
//   (`foo**` matches `foobar/x`; `dir/**` matches below `dir` but not `dir`).
// - A leading `**` with nothing wild after it is a suffix match (`**/x`
//   matches `a/b/x`, and also `x` itself).
// - Anything else is a regexp: `*` is `[^/]*`, `?` is `[^/]`, `**` is `.*`
//   at the end and `(.*/)?` elsewhere (a `/` after `**` is eaten), `[`, `]`
//   and `\c` pass through to the regexp, and `.+()|{}$` are escaped.
// The regexp text is patternmatcher's, compiled as a JS RegExp without the
// `u` flag (Annex B: a lone `]` or `\c` is literal, as in Go's RE2). Known
// gaps, all in patterns no ignore file uses: RE2-only syntax reachable
// through `\` (`\pL`, `\Q..\E`) or `[[:alpha:]]` classes, and `?` against
// a character outside the BMP (one rune in Go, two UTF-16 units here).
import { TsbuildError } from '../../errors.js';

type Matcher = (path: string) => boolean;

/** Escaped by patternmatcher: regexp characters with no meaning to filepath.Match. */
const ESCAPED = new Set(['.', '+', '(', ')', '|', '{', '}', '$']);

/** Compile a cleaned pattern (no `!`) into patternmatcher's matcher for `/`-separated relative paths. */
export function compileIgnorePattern(pattern: string): Matcher {
  const chars = Array.from(pattern);
  let re = '^';
  let type: 'exact' | 'prefix' | 'suffix' | 'regexp' = 'exact';
  for (let i = 0, pos = 0; pos < chars.length; i++) {
    const ch = chars[pos++] as string;
    if (ch === '*') {
      if (chars[pos] === '*') {
        pos++;
        if (chars[pos] === '/') pos++; // `**/` is `**`
        if (pos >= chars.length) {
          // `**` at the end: everything below, as .gitignore has it.
          if (type === 'exact') type = 'prefix';
          else {
            re += '.*';
            type = 'regexp';
          }
        } else {
          re += '(.*/)?';
          type = 'regexp';
        }
        if (i === 0) type = 'suffix';
      } else {
        re += '[^/]*';
        type = 'regexp';
      }
    } else if (ch === '?') {
      re += '[^/]';
      type = 'regexp';
    } else if (ESCAPED.has(ch)) {
      re += `\\${ch}`;
    } else if (ch === '\\') {
      // Escape the next character; a trailing `\` stays (escaped) as is.
      if (pos < chars.length) {
        re += `\\${chars[pos++] as string}`;
        type = 'regexp';
      } else {
        re += '\\\\';
      }
    } else if (ch === '[' || ch === ']') {
      re += ch;
      type = 'regexp';
    } else {
      re += ch;
    }
  }
  switch (type) {
    case 'exact':
      return (path) => path === pattern;
    case 'prefix': {
      const prefix = pattern.slice(0, -2);
      return (path) => path.startsWith(prefix);
    }
    case 'suffix': {
      const suffix = pattern.slice(2);
      // `**/foo` also matches `foo` itself.
      return (path) => path.endsWith(suffix) || (suffix.startsWith('/') && path === suffix.slice(1));
    }
    case 'regexp': {
      let compiled: RegExp;
      try {
        compiled = new RegExp(`${re}$`);
      } catch (err) {
        throw new TsbuildError('E_BAD_PATTERN', `invalid pattern "${pattern}": syntax error in pattern`, { cause: err });
      }
      return (path) => compiled.test(path);
    }
  }
}
