// Heredocs (`RUN <<EOF`, `COPY <<EOF /dst`): finding the delimiter words in
// an instruction line and deciding, per delimiter, its name, whether the body
// is expanded (no part of the delimiter quoted) and whether tabs are chomped
// (`<<-`). Reading the body lines is the parser loop's job.
//
// Detection follows buildkit: the line is split into shell words with quotes
// and escapes kept, and only a whole word of the form `[n]<<[-]WORD` counts,
// so `"<<EOF"` and `\<<EOF` are ordinary text.
import type { Heredoc } from './ast.js';
import { expandWord } from '../shell/lex.js';
import { TsbuildError } from '../../errors.js';

const HEREDOC_WORD = /^(\d*)<<(-?)([^<]*)$/;
const noEnv = new Map<string, string>();

export type HeredocHeader = Omit<Heredoc, 'content'>;

/** Heredoc delimiters in an instruction line, in order. */
export function heredocsInLine(line: string): HeredocHeader[] {
  let words: string[];
  try {
    words = expandWord(line, noEnv, { rawQuotes: true, rawEscapes: true, skipUnset: true }).words;
  } catch {
    return []; // unbalanced quotes: docker finds no heredoc either
  }
  const out: HeredocHeader[] = [];
  for (const word of words) {
    const h = parseHeredocWord(word);
    if (h) out.push(h);
  }
  return out;
}

/** `<<EOF`, `<<-'EOF'`, `3<<"EOF"` → header; any other word → null. */
export function parseHeredocWord(word: string): HeredocHeader | null {
  const m = HEREDOC_WORD.exec(word);
  if (!m) return null;
  const delimiter = m[3] as string;
  if (delimiter === '') return null;
  let plain: string[];
  let raw: string[];
  try {
    plain = expandWord(delimiter, noEnv, { skipUnset: true }).words;
    raw = expandWord(delimiter, noEnv, { skipUnset: true, rawQuotes: true }).words;
  } catch (err) {
    const why = err instanceof TsbuildError ? err.message : String(err);
    throw new TsbuildError('E_BAD_HEREDOC', `invalid heredoc delimiter ${JSON.stringify(word)}: ${why}`);
  }
  if (plain.length !== 1 || raw.length !== 1) return null;
  const name = plain[0] as string;
  return {
    name,
    fileDescriptor: m[1] === '' ? 0 : Number.parseInt(m[1] as string, 10),
    // Quotes removed means some of the delimiter was quoted: take the body literally.
    expand: countQuotes(name) === countQuotes(raw[0] as string),
    chomp: m[2] === '-',
  };
}

function countQuotes(s: string): number {
  let n = 0;
  for (const ch of s) if (ch === '"' || ch === "'") n++;
  return n;
}

/** `<<-`: strip leading tabs from every line of the body. */
export function chompHeredoc(content: string): string {
  return content.replace(/^\t+/gm, '');
}

/** Only RUN, ADD and COPY (also as an ONBUILD trigger) take heredocs, and not in exec form. */
export function takesHeredocs(keyword: string, json: boolean): boolean {
  return !json && (keyword === 'run' || keyword === 'add' || keyword === 'copy');
}
