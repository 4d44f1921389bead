// What every instruction parser receives: the AST node, the file name for
// errors, and the node's source range, plus small helpers for argument-count
// errors so their wording is the same for every instruction.
import type { AstNode } from '../parser/ast.js';
import { fail } from '../parser/located-error.js';
import type { SourceRange } from './types.js';

export interface ParseRequest {
  node: AstNode;
  file: string;
  /** The instruction's name in upper case, for messages. */
  name: string;
}

export function sourceRange(node: AstNode): SourceRange {
  return { line: node.startLine, endLine: node.endLine, source: node.original };
}

export function requireArgs(req: ParseRequest, min: number, usage: string): void {
  if (req.node.args.length < min) fail('E_MISSING_ARG', `${req.name} requires ${usage}`);
}

export function requireExactlyOne(req: ParseRequest, what: string): string {
  const { args } = req.node;
  if (args.length === 0) fail('E_MISSING_ARG', `${req.name} requires ${what}`);
  if (args.length > 1) fail('E_EXTRA_ARG', `${req.name} takes exactly one argument (${what})`);
  return args[0] as string;
}
