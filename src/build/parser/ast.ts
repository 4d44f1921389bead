// The untyped AST: what the parser stage produces and the instruction stage
// consumes. One node per instruction, with its arguments split the way docker
// splits them for that keyword but not yet interpreted (no expansion, quotes
// kept), and the range of physical lines it came from.

export interface Heredoc {
  /** The delimiter word with quotes removed (`EOF` for `<<'EOF'`). */
  name: string;
  /** `3<<EOF` feeds file descriptor 3; 0 means stdin. */
  fileDescriptor: number;
  /** False when any part of the delimiter was quoted: the body is then taken literally. */
  expand: boolean;
  /** `<<-EOF`: leading tabs are stripped from the body and the delimiter line. */
  chomp: boolean;
  /** The body exactly as written, every line with its newline (not yet chomped). */
  content: string;
}

export interface AstNode {
  /** The instruction keyword in lower case (`run`), or whatever unknown word was written. */
  keyword: string;
  /** The keyword as written (`Run`), for messages. */
  spelled: string;
  /** Leading `--name[=value]` words, quotes removed; a bare `--` ends them and is dropped. */
  flags: string[];
  /**
   * The arguments as split for this keyword. ENV and LABEL give flat
   * (key, value, separator) triples, separator `=` or `` for the legacy form.
   */
  args: string[];
  /** Physical line on which each argument starts (same length as args). */
  argLines: number[];
  /** The arguments came from a JSON array (exec form). */
  json: boolean;
  /** ONBUILD's trigger instruction. */
  child: AstNode | null;
  /** Heredoc bodies that follow the instruction, in order of their delimiters. */
  heredocs: Heredoc[];
  /** The instruction after joining continuation lines. */
  original: string;
  /** 1-based inclusive range of physical lines, heredoc bodies included. */
  startLine: number;
  endLine: number;
}

export interface ParsedContainerfile {
  /** The path the user gave; every error location uses it. */
  file: string;
  nodes: AstNode[];
  escapeToken: '\\' | '`';
  /** Parser directives from the top of the file (`syntax`, `escape`, `check`). */
  directives: Record<string, string>;
  /** Things docker warns about, such as empty continuation lines. */
  warnings: string[];
}
