// Parser directives: `# escape=` and `# syntax=` (and buildkit's `# check=`)
// count only in the comment lines at the very top of the file. The first line
// that is anything else (an instruction, a blank line, an ordinary comment)
// ends the directive section, which is why `# escape=` after a comment is
// just a comment.
import { fail } from './located-error.js';

// Go's \s is [\t\n\f\r ]; the value is trimmed of it too.
const DIRECTIVE_RE = /^#[\t\n\f\r ]*([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*$/;
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
    if (!m || name === undefined || !KNOWN.has(name)) {
      this.done = true;
      return;
    }
    if (name in this.values) fail('E_BAD_DIRECTIVE', `only one ${name} parser directive can be used`);
    const value = m[2] as string;
    if (name === 'escape') {
      if (value !== '\\' && value !== '`') fail('E_BAD_DIRECTIVE', `invalid escape token '${value}' does not match \` or \\`);
      this.escapeToken = value;
    }
    this.values[name] = value;
  }
}
