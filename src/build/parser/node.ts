// One logical line (continuations joined) → one AST node: split off the
// keyword and flags, split the arguments the way this keyword wants, and
// work out on which physical line each argument starts, so that a bad value
// on the third line of a continued instruction is reported on that line.
import type { AstNode } from './ast.js';
import {
  type LineParse, type LineParser, parseEnv, parseHealthcheck, parseIgnore, parseLabel, parseMaybeJson,
  parseMaybeJsonToList, parseWhitespaceDelimited, parseWholeLine, parseWordList,
} from './line-parsers.js';
import { splitCommand } from './split-command.js';

const lineParsers: Record<string, LineParser> = {
  add: parseMaybeJsonToList,
  arg: parseWordList,
  cmd: parseMaybeJson,
  copy: parseMaybeJsonToList,
  entrypoint: parseMaybeJson,
  env: parseEnv,
  expose: parseWhitespaceDelimited,
  from: parseWhitespaceDelimited,
  healthcheck: parseHealthcheck,
  label: parseLabel,
  maintainer: parseWholeLine,
  run: parseMaybeJson,
  shell: parseMaybeJson,
  stopsignal: parseWholeLine,
  user: parseWholeLine,
  volume: parseMaybeJsonToList,
  workdir: parseWholeLine,
};

/** A logical line and the physical line each stretch of it came from. */
export class LogicalLine {
  text = '';
  private readonly pieces: Array<{ offset: number; line: number }> = [];

  constructor(readonly startLine: number) {}

  append(text: string, line: number): void {
    this.pieces.push({ offset: this.text.length, line });
    this.text += text;
  }

  /** The physical line holding character `offset` of the logical line. */
  lineAt(offset: number): number {
    let line = this.startLine;
    for (const p of this.pieces) {
      if (p.offset > offset) break;
      line = p.line;
    }
    return line;
  }
}

/**
 * Build the node for `text`, which starts at `base` within `logical`. A
 * trigger is only nested one level deep: `ONBUILD ONBUILD …` is refused by the
 * instruction stage, and stopping here keeps a pathological line from
 * recursing without bound.
 */
export function buildNode(logical: LogicalLine, escape: string, text = logical.text, base = 0, nested = false): AstNode {
  const split = splitCommand(text);
  const keyword = split.keyword.toLowerCase();
  const node: AstNode = {
    keyword,
    spelled: split.keyword,
    flags: split.flags,
    args: [],
    argLines: [],
    json: false,
    child: null,
    heredocs: [],
    original: text,
    startLine: logical.startLine,
    endLine: logical.startLine,
  };
  const restBase = base + split.restOffset;
  if (keyword === 'onbuild') {
    // ONBUILD's argument is a whole instruction of its own.
    if (split.rest !== '' && !nested) node.child = buildNode(logical, escape, split.rest, restBase, true);
    return node;
  }
  const parsed: LineParse = (lineParsers[keyword] ?? parseIgnore)(split.rest, escape);
  node.args = parsed.args;
  node.json = parsed.json;
  node.argLines = locateArgs(parsed.args, logical, restBase, keyword === 'env' || keyword === 'label');
  return node;
}

/**
 * Find each argument in the logical text, in order, to learn its physical
 * line. Arguments that are not substrings (decoded JSON) take the line where
 * the search stands. For key/value triples the separator is skipped.
 */
function locateArgs(args: readonly string[], logical: LogicalLine, from: number, triples: boolean): number[] {
  const lines: number[] = [];
  let pos = from;
  args.forEach((arg, i) => {
    const isSeparator = triples && i % 3 === 2;
    const at = isSeparator || arg === '' ? -1 : logical.text.indexOf(arg, pos);
    if (at < 0) {
      lines.push(isSeparator ? (lines.at(-1) ?? logical.lineAt(pos)) : logical.lineAt(pos));
      return;
    }
    lines.push(logical.lineAt(at));
    pos = at + arg.length;
  });
  return lines;
}
