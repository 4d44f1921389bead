// Parser directives: `# escape=` and `# syntax=` (and buildkit's `# check=`)
// count only in the comment lines at the very top of the file. The first line
// that is anything else (an instruction, a blank line, an ordinary comment)
// ends the directive section, which is why `# escape=` after a comment is
// just a comment.
import { fail } from './located-error.js';

// `#name=value` with Go's \s ([\t\n\f\r ]) allowed around the parts. The
// value is trimmed by hand rather than with a lazy `(.+?)\s*$`, which is
// quadratic on long runs of spaces.
const DIRECTIVE_RE = /^#[\t\n\f\r ]*([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=([^\n]*)$/;
const GO_SPACE = /[\t\n\f\r ]/;
const KNOWN = new Set(['escape', 'syntax', 'check']);

export class DirectiveScanner {
  private done = false;
  readonly values: Record<string, string> = {};
  escapeToken: '\\' | '`' = '\\';

  /** Look at one line (left-trimmed, without newline) from the top of the file. */
  consider(line: string): void {
    if (this.done) return;
    const m = DIRECTIVE_RE.exec(line);
    const name = m?.[1]?.toLowerCase();
    const value = directiveValue(m?.[2] ?? '');
    if (!m || name === undefined || !KNOWN.has(name) || value === null) {
      this.done = true;
      return;
    }
    if (name in this.values) fail('E_BAD_DIRECTIVE', `only one ${name} parser directive can be used`);
    if (name === 'escape') {
      if (value !== '\\' && value !== '`') fail('E_BAD_DIRECTIVE', `invalid escape token '${value}' does not match \` or \\`);
      this.escapeToken = value;
    }
    this.values[name] = value;
  }
}

/**
 * The value after `=`, trimmed; null when there is none. A value of only
 * spaces is that last space, as Go's `\s*(.+?)\s*$` makes it (so
 * `# escape= ` is an invalid escape, as in docker).
 */
function directiveValue(raw: string): string | null {
  if (raw === '') return null;
  let start = 0;
  let end = raw.length;
  while (start < end && GO_SPACE.test(raw[start] as string)) start++;
  while (end > start && GO_SPACE.test(raw[end - 1] as string)) end--;
  return start < end ? raw.slice(start, end) : raw.slice(-1);
}
