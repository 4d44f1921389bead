// Physical-line rules shared by the parser loop: how a file splits into lines,
// what counts as a comment or a blank continuation line, and how the escape
// character at the end of a line continues it. Kept apart from the parser so
// each rule is stated once, with docker's quirks written down next to it.
import { trimLeftSpace } from '../shell/unicode.js';

/** Lines with their terminating `\n` kept (heredoc bodies need the exact bytes). */
export function splitPhysicalLines(source: string): string[] {
  const text = source.startsWith('\uFEFF') ? source.slice(1) : source;
  const lines: string[] = [];
  let start = 0;
  for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
    lines.push(text.slice(start, nl + 1));
    start = nl + 1;
  }
  if (start < text.length) lines.push(text.slice(start));
  return lines;
}

/** Drop any trailing `\r` and `\n` characters (CRLF files parse like LF ones). */
export function trimNewline(line: string): string {
  let end = line.length;
  while (end > 0 && (line[end - 1] === '\n' || line[end - 1] === '\r')) end--;
  return line.slice(0, end);
}

/** A comment is a line whose first non-space character is `#`, indented or not. */
export function isCommentLine(line: string): boolean {
  return trimLeftSpace(trimNewline(line)).startsWith('#');
}

export function isBlankLine(line: string): boolean {
  return trimLeftSpace(trimNewline(line)) === '';
}

/**
 * If the line ends with the escape character (then optional spaces/tabs),
 * remove that and report that the instruction continues. An escape that is
 * itself escaped (`\\` at the end) does not continue the line; a line holding
 * only the escape character does.
 */
export function trimContinuation(line: string, escape: string): { text: string; continues: boolean } {
  let end = line.length;
  while (end > 0 && (line[end - 1] === ' ' || line[end - 1] === '\t')) end--;
  if (end === 0 || line[end - 1] !== escape) return { text: line, continues: false };
  if (end >= 2 && line[end - 2] === escape) return { text: line, continues: false };
  return { text: line.slice(0, end - 1), continues: true };
}
