// Shell pattern matching for the `${VAR#p}`, `${VAR%p}` and `${VAR/p/r}`
// operators. A pattern is a shell glob: `*` (any string), `?` (any one
// character), `[...]` (a class, `[!...]`/`[^...]` negated, with ranges), and
// `\c` for a literal c. The expander escapes quoted text before it gets here,
// so `${v#"*"}` removes a literal star as in sh.
//
// Patterns are matched by a small state-set matcher over code points rather
// than by translating to a RegExp: one pass yields every match length (which
// shortest/longest prefix and replacement need), regex metacharacters in a
// pattern mean nothing special, and there is no backtracking to blow up.

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
  return matchLengths(tokens, text, 0).at(-1) === text.length;
}

/**
 * Every length L such that text[start, start+L) matches the whole pattern,
 * ascending. A set-of-states simulation: O(length × pattern), no backtracking,
 * so a hostile pattern can't make expansion slow.
 */
function matchLengths(tokens: readonly Token[], text: readonly string[], start: number): number[] {
  const end = tokens.length;
  // A star also matches the empty string, so reaching it reaches what follows.
  const close = (states: Set<number>): Set<number> => {
    for (const s of states) if (tokens[s]?.t === 'star') states.add(s + 1);
    return states;
  };
  let states = close(new Set([0]));
  const lengths = states.has(end) ? [0] : [];
  for (let k = start; k < text.length && states.size > 0; k++) {
    const ch = text[k] as string;
    const next = new Set<number>();
    for (const s of states) {
      const tok = tokens[s];
      if (!tok) continue;
      if (tok.t === 'star') next.add(s);
      else if (matchesOne(tok, ch)) next.add(s + 1);
    }
    states = close(next);
    if (states.has(end)) lengths.push(k - start + 1);
  }
  return lengths;
}

/** `${v#p}` (shortest) and `${v##p}` (longest): drop a matching prefix. */
export function removePrefix(value: string, pattern: string, longest: boolean): string {
  const chars = Array.from(value);
  const lengths = matchLengths(compileGlob(pattern), chars, 0);
  const cut = longest ? lengths.at(-1) : lengths[0];
  return cut === undefined ? value : chars.slice(cut).join('');
}

/** `${v%p}` (shortest) and `${v%%p}` (longest): drop a matching suffix. */
export function removeSuffix(value: string, pattern: string, longest: boolean): string {
  const tokens = compileGlob(pattern);
  const chars = Array.from(value);
  for (let k = 0; k <= chars.length; k++) {
    const start = longest ? k : chars.length - k;
    if (matchLengths(tokens, chars, start).at(-1) === chars.length - start) return chars.slice(0, start).join('');
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
    const longest = matchLengths(tokens, chars, i).at(-1) ?? 0;
    if (longest === 0) {
      out += chars[i];
      i++;
      continue;
    }
    out += replacement;
    i += longest;
    if (!all) return out + chars.slice(i).join('');
  }
  return out;
}
