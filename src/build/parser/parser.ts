// The parser stage: Containerfile text → untyped AST with line ranges
// (buildkit's parser package). It owns the physical-line loop: directives at
// the top, comments and blank lines, continuation lines (with comment and
// blank lines inside them skipped), and heredoc bodies after an instruction.
// It never interprets arguments; see ../instructions for that.
import type { AstNode, Heredoc, ParsedContainerfile } from './ast.js';
import { DirectiveScanner } from './directives.js';
import { heredocsInLine, takesHeredocs } from './heredoc.js';
import { atLine, locatedError } from './located-error.js';
import { buildNode, LogicalLine } from './node.js';
import { isBlankLine, isCommentLine, splitPhysicalLines, trimContinuation, trimNewline } from './source-lines.js';
import { trimLeftSpace, trimSpace } from '../shell/unicode.js';

export interface ParseOptions {
  /** The path as the user gave it (`Containerfile`, `ci/Dockerfile`); used in every error. */
  file: string;
}

/** Parse Containerfile text. Throws TsbuildError with `{file, line}` on any syntax error. */
export function parseContainerfile(source: string, opts: ParseOptions): ParsedContainerfile {
  const { file } = opts;
  const lines = splitPhysicalLines(source);
  const directives = new DirectiveScanner();
  const nodes: AstNode[] = [];
  const warnings: string[] = [];
  let i = 0;

  while (i < lines.length) {
    const startLine = ++i;
    let first = trimLeftSpace(trimNewline(lines[startLine - 1] as string));
    atLine(file, startLine, () => directives.consider(first));
    if (first.startsWith('#')) first = '';
    const escape = directives.escapeToken;

    let { text, continues } = trimContinuation(first, escape);
    if (!continues && text === '') continue;
    const logical = new LogicalLine(startLine);
    logical.append(text, startLine);
    let sawEmptyContinuation = false;
    while (continues && i < lines.length) {
      const raw = lines[i++] as string;
      if (isCommentLine(raw)) continue;
      if (isBlankLine(raw)) { sawEmptyContinuation = true; continue; }
      ({ text, continues } = trimContinuation(trimNewline(raw), escape));
      logical.append(text, i);
    }
    if (trimSpace(logical.text) === '') continue; // only continuation characters
    if (sawEmptyContinuation) warnings.push(`${file}:${startLine}: empty continuation line (docker will make this an error)`);

    const node = atLine(file, startLine, () => buildNode(logical, escape));
    const target = node.keyword === 'onbuild' && node.child ? node.child : node;
    if (takesHeredocs(target.keyword, target.json)) {
      for (const header of atLine(file, startLine, () => heredocsInLine(logical.text))) {
        const heredoc: Heredoc = { ...header, content: '' };
        let terminated = false;
        while (i < lines.length) {
          const raw = lines[i++] as string;
          let candidate = trimNewline(raw);
          if (heredoc.chomp) candidate = candidate.replace(/^\t+/, '');
          if (candidate === heredoc.name) { terminated = true; break; }
          heredoc.content += raw;
        }
        if (!terminated) {
          throw locatedError('E_HEREDOC_UNTERMINATED', `unterminated heredoc: no line "${heredoc.name}" ends <<${heredoc.chomp ? '-' : ''}${heredoc.name}`, file, startLine);
        }
        node.heredocs.push(heredoc);
      }
    }
    node.endLine = i;
    if (node.child) node.child.endLine = i;
    nodes.push(node);
  }

  if (nodes.length === 0) {
    throw locatedError('E_EMPTY_FILE', 'the file has no instructions (it needs at least a FROM)', file, 1);
  }
  return { file, nodes, escapeToken: directives.escapeToken, directives: { ...directives.values }, warnings };
}
