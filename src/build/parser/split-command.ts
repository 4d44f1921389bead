// The first split of an instruction line: keyword, leading `--flags`, and the
// rest. Flags are recognised only while words start with `--`; quotes in a
// flag are removed and `\` escapes the next character (always `\`, whatever
// the escape directive says, as docker does). A bare `--` ends the flags.
import { isSpace, trimLeftSpace, trimSpace } from '../shell/unicode.js';

export interface SplitCommand {
  /** The keyword as written. */
  keyword: string;
  flags: string[];
  /** The arguments after the flags, trimmed. */
  rest: string;
  /** Offset of `rest` within the line given to splitCommand (for line numbers). */
  restOffset: number;
}

const KEYWORD_END = /[\t\v\f\r ]+/;

export function splitCommand(line: string): SplitCommand {
  const lead = line.length - trimLeftSpace(line).length;
  const trimmed = trimSpace(line);
  const m = KEYWORD_END.exec(trimmed);
  if (!m) return { keyword: trimmed, flags: [], rest: '', restOffset: line.length };
  const afterKeyword = m.index + m[0].length;
  const { flags, restStart } = extractFlags(trimmed.slice(afterKeyword));
  const restRaw = trimmed.slice(afterKeyword + restStart);
  const rest = trimSpace(restRaw);
  const restOffset = lead + afterKeyword + restStart + (restRaw.length - trimLeftSpace(restRaw).length);
  return { keyword: trimmed.slice(0, m.index), flags, rest, restOffset };
}

function extractFlags(line: string): { flags: string[]; restStart: number } {
  const flags: string[] = [];
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let word = '';
  let quote = '';
  let blankOk = false;
  for (let pos = 0; pos <= line.length; pos++) {
    let ch = line[pos] ?? '';
    if (phase === 'spaces') {
      if (pos === line.length) break;
      if (isSpace(ch)) continue;
      // Only words that start with `--` are flags.
      if (ch !== '-' || line[pos + 1] !== '-') return { flags, restStart: pos };
      phase = 'word';
    }
    if (pos === line.length) {
      if (word !== '--' && (blankOk || word.length > 0)) flags.push(word);
      break;
    }
    if (phase === 'word') {
      if (isSpace(ch)) {
        phase = 'spaces';
        if (word === '--') return { flags, restStart: pos };
        if (blankOk || word.length > 0) flags.push(word);
        word = '';
        blankOk = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOk = true;
        phase = 'quote';
        continue;
      }
      if (ch === '\\') {
        if (pos + 1 === line.length) continue; // a trailing backslash is dropped
        ch = line[++pos] as string;
      }
      word += ch;
      continue;
    }
    // phase === 'quote'
    if (ch === quote) {
      phase = 'word';
      continue;
    }
    if (ch === '\\') {
      if (pos + 1 === line.length) {
        phase = 'word';
        continue;
      }
      ch = line[++pos] as string;
    }
    word += ch;
  }
  return { flags, restStart: line.length };
}
