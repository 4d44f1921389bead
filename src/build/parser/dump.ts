// The AST dump format of buildkit's parser tests: one `(keyword ["flags"]
// "arg" ...)` line per instruction, every string quoted like Go's
// strconv.Quote. It is how the conformance corpus states expected results,
// and a compact way to eyeball what the parser made of a file.
import type { AstNode } from './ast.js';

export function dumpAst(nodes: readonly AstNode[]): string {
  return nodes.map((n) => `(${dumpNode(n)})\n`).join('');
}

export function dumpNode(node: AstNode): string {
  let s = node.keyword.toLowerCase();
  if (node.flags.length > 0) s += ` [${node.flags.map(goQuote).join(' ')}]`;
  if (node.child) s += ` (${dumpNode(node.child)})`;
  else for (const arg of node.args) s += ` ${goQuote(arg)}`;
  return s.trim();
}

const NAMED_ESCAPES: Record<string, string> = {
  '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v',
};

/** Go's unicode.IsPrint: graphic characters and the ASCII space, but no other spaces. */
function isPrint(ch: string): boolean {
  return ch === ' ' || /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(ch);
}

/** Go's strconv.Quote: printable UTF-8 is kept; everything else is escaped. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0) as number;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (isPrint(ch)) out += ch;
    else if (NAMED_ESCAPES[ch] !== undefined) out += NAMED_ESCAPES[ch];
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${hex(cp, 2)}`;
    else if (cp >= 0xd800 && cp <= 0xdfff) out += '\\ufffd'; // a lone surrogate is not valid UTF-8
    else if (cp < 0x10000) out += `\\u${hex(cp, 4)}`;
    else out += `\\U${hex(cp, 8)}`;
  }
  return `${out}"`;
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}
