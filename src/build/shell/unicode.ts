// Character classes with Go's meaning. Docker's parser and shell lexer use
// Go's unicode.IsSpace/IsLetter/IsDigit, which differ from JavaScript's \s
// (Go counts U+0085 as space and not U+FEFF). Matching them exactly keeps
// word splitting identical to docker's on unusual input.

/** Go's unicode.IsSpace. */
export function isSpace(ch: string): boolean {
  if (ch === '\uFEFF') return false;
  return ch === '\u0085' || /^\s$/u.test(ch);
}

/** Go's unicode.IsLetter (category L). */
export function isLetter(ch: string): boolean {
  return /^\p{L}$/u.test(ch);
}

/** Go's unicode.IsDigit (category Nd). */
export function isDigit(ch: string): boolean {
  return /^\p{Nd}$/u.test(ch);
}

/** strings.TrimLeftFunc(s, unicode.IsSpace). */
export function trimLeftSpace(s: string): string {
  let i = 0;
  while (i < s.length && isSpace(s[i] as string)) i++;
  return s.slice(i);
}

/** strings.TrimSpace with Go's notion of space. */
export function trimSpace(s: string): string {
  let end = s.length;
  while (end > 0 && isSpace(s[end - 1] as string)) end--;
  return trimLeftSpace(s.slice(0, end));
}
