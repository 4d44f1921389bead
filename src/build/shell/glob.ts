// Shell pattern matching for the `${VAR#p}`, `${VAR%p}` and `${VAR/p/r}`
// operators. A pattern is a shell glob: `*` (any string), `?` (any one
// character), `[...]` (a class, `[!...]`/`[^...]` negated, with ranges), and
// `\c` for a literal c. The expander escapes quoted text before it gets here,
// so `${v#"*"}` removes a literal star as in sh.
//
// Patterns are matched by a small backtracking matcher over code points rather
// than by translating to a RegExp: "shortest suffix" needs every split point
// anyway, and a matcher can't be tricked by regex metacharacters.

type Token =
  | { t: 'lit'; c: string }
  | { t: 'any' }
  | { t: 'star' }
  | { t: 'class'; negate: boolean; singles: Set<string>; ranges: Array<[number, number]> };

/** The characters a glob gives meaning to, for escaping literal text. */
const GLOB_SPECIAL = new Set(['*', '?', '[', ']', '\\']);

/** Escape text so that it matches only itself when used as a pattern. */
export function escapeGlob(text: string): string {
  let out = '';
  for (const ch of text) out += GLOB_SPECIAL.has(ch) ? `\\${ch}` : ch;
  return out;
}

export function compileGlob(pattern: string): Token[] {
  const chars = Array.from(pattern);
  const tokens: Token[] = [];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i] as string;
    if (ch === '\\') {
      // A trailing backslash stands for itself.
      tokens.push({ t: 'lit', c: chars[i + 1] ?? '\\' });
      i++;
    } else if (ch === '*') {
      if (tokens.at(-1)?.t !== 'star') tokens.push({ t: 'star' });
    } else if (ch === '?') {
      tokens.push({ t: 'any' });
    } else if (ch === '[') {
      const parsed = parseClass(chars, i);
      if (parsed) {
        tokens.push(parsed.token);
        i = parsed.end;
      } else {
        tokens.push({ t: 'lit', c: '[' }); // no closing ']': an ordinary character
      }
    } else {
      tokens.push({ t: 'lit', c: ch });
    }
  }
  return tokens;
}

/** Parse `[...]` starting at chars[start] === '['; null when it never closes. */
function parseClass(chars: string[], start: number): { token: Token; end: number } | null {
  let i = start + 1;
  let negate = false;
  if (chars[i] === '!' || chars[i] === '^') { negate = true; i++; }
  const singles = new Set<string>();
  const ranges: Array<[number, number]> = [];
  let first = true;
  while (i < chars.length) {
    let ch = chars[i] as string;
    if (ch === ']' && !first) return { token: { t: 'class', negate, singles, ranges }, end: i };
    first = false;
    if (ch === '\\' && i + 1 < chars.length) ch = chars[++i] as string;
    if (chars[i + 1] === '-' && i + 2 < chars.length && chars[i + 2] !== ']') {
      let hi = chars[i + 2] as string;
      i += 2;
      if (hi === '\\' && i + 1 < chars.length) hi = chars[++i] as string;
      ranges.push([ch.codePointAt(0) as number, hi.codePointAt(0) as number]);
    } else {
      singles.add(ch);
    }
    i++;
  }
  return null;
}

function matchesOne(tok: Token, ch: string): boolean {
  switch (tok.t) {
    case 'lit': return tok.c === ch;
    case 'any': return true;
    case 'star': return false;
    case 'class': {
      const cp = ch.codePointAt(0) as number;
      const hit = tok.singles.has(ch) || tok.ranges.some(([lo, hi]) => cp >= lo && cp <= hi);
      return hit !== tok.negate;
    }
  }
}

/** Does the whole of `text` (code points) match the pattern? */
export function globMatches(tokens: readonly Token[], text: readonly string[]): boolean {
  // Classic wildcard matching: remember the last star and retry from there.
  let ti = 0;
  let ci = 0;
  let starTi = -1;
  let starCi = 0;
  while (ci < text.length) {
    const tok = tokens[ti];
    if (tok && tok.t === 'star') {
      starTi = ti++;
      starCi = ci;
    } else if (tok && matchesOne(tok, text[ci] as string)) {
      ti++;
      ci++;
    } else if (starTi >= 0) {
      ti = starTi + 1;
      ci = ++starCi;
    } else {
      return false;
    }
  }
  while (tokens[ti]?.t === 'star') ti++;
  return ti === tokens.length;
}

/** `${v#p}` (shortest) and `${v##p}` (longest): drop a matching prefix. */
export function removePrefix(value: string, pattern: string, longest: boolean): string {
  const tokens = compileGlob(pattern);
  const chars = Array.from(value);
  for (let k = 0; k <= chars.length; k++) {
    const len = longest ? chars.length - k : k;
    if (globMatches(tokens, chars.slice(0, len))) return chars.slice(len).join('');
  }
  return value;
}

/** `${v%p}` (shortest) and `${v%%p}` (longest): drop a matching suffix. */
export function removeSuffix(value: string, pattern: string, longest: boolean): string {
  const tokens = compileGlob(pattern);
  const chars = Array.from(value);
  for (let k = 0; k <= chars.length; k++) {
    const start = longest ? k : chars.length - k;
    if (globMatches(tokens, chars.slice(start))) return chars.slice(0, start).join('');
  }
  return value;
}

/**
 * `${v/p/r}` and `${v//p/r}`: replace the first (or every) leftmost-longest
 * non-empty match. An empty pattern changes nothing, as in bash.
 */
export function replaceMatches(value: string, pattern: string, replacement: string, all: boolean): string {
  if (pattern === '') return value;
  const tokens = compileGlob(pattern);
  const chars = Array.from(value);
  let out = '';
  let i = 0;
  while (i < chars.length) {
    let matchLen = 0;
    for (let len = chars.length - i; len > 0; len--) {
      if (globMatches(tokens, chars.slice(i, i + len))) { matchLen = len; break; }
    }
    if (matchLen === 0) {
      out += chars[i];
      i++;
      continue;
    }
    out += replacement;
    i += matchLen;
    if (!all) return out + chars.slice(i).join('');
  }
  return out;
}
