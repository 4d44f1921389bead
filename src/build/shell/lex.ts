// Word expansion as docker's builder does it (buildkit shell/lex.go): quotes,
// the escape character, `$VAR`, `${VAR}` and the `${VAR<op>word}` operators,
// with two entry points: processWord (one word, quotes removed) and
// processWords (the same, then unquoted expansions split into fields).
//
// This is deliberately *not* a shell. There is no command substitution, no
// arithmetic and no globbing of file names; RUN/CMD/ENTRYPOINT text is never
// expanded here (the container's shell does that). What it must get exactly
// right is the small language docker applies to ADD, COPY, ENV, FROM, ... so
// that a Containerfile means the same thing here as under docker build.
// The conformance tables (envVarTest, wordsTest) pin the behaviour.
import { TsbuildError } from '../../errors.js';
import { escapeGlob, removePrefix, removeSuffix, replaceMatches } from './glob.js';
import { isDigit, isLetter, isSpace } from './unicode.js';

export interface LexOptions {
  /** The Containerfile's escape character: `\` (default) or `` ` ``. */
  escapeToken?: string;
  /** Leave references to unset variables as written (`$X`, `${X:-y}`) instead of expanding them. */
  skipUnset?: boolean;
  /** Treat quotes as ordinary characters (heredoc bodies). */
  skipQuotes?: boolean;
  /** Keep quote characters in the result. */
  rawQuotes?: boolean;
  /** Keep escape characters in the result. */
  rawEscapes?: boolean;
  /**
   * Expand a heredoc body as a shell would: quotes are ordinary characters and
   * the escape character only escapes `$`, itself, `` ` `` and a newline.
   */
  heredocBody?: boolean;
}

export interface WordExpansion {
  /** The expanded word with quotes removed (ProcessWord). */
  value: string;
  /** The expanded word split into fields (ProcessWords). */
  words: string[];
  /** Variables the word looked up and found. */
  matched: Set<string>;
  /** Variables the word looked up and did not find. */
  unmatched: Set<string>;
}

export type Env = ReadonlyMap<string, string>;

/** Expand one word: `"$HOME"/x` → `/root/x`. Throws TsbuildError E_EXPAND (without a location). */
export function processWord(word: string, env: Env, opts: LexOptions = {}): string {
  return expandWord(word, env, opts).value;
}

/** Expand and split into fields: `a $LIST` with LIST="b c" → [a, b, c]. */
export function processWords(word: string, env: Env, opts: LexOptions = {}): string[] {
  return expandWord(word, env, opts).words;
}

/** Everything one expansion produces, including which variables it looked up. */
export function expandWord(word: string, env: Env, opts: LexOptions = {}): WordExpansion {
  const x = new Expander(word, env, opts);
  try {
    const { value, words } = x.processUntil(null, 'normal');
    return { value, words, matched: x.matched, unmatched: x.unmatched };
  } catch (err) {
    if (err instanceof ExpandFailure) {
      // One line, whatever the word holds (heredoc bodies are expanded too).
      const shownWord = JSON.stringify(word.length > 80 ? `${word.slice(0, 77)}...` : word);
      throw new TsbuildError('E_EXPAND', `failed to process ${shownWord}: ${err.message.replace(/[\r\n]+/g, ' ')}`);
    }
    throw err;
  }
}

/**
 * The variable names a word refers to, whatever their values: what the build
 * cache needs to know ("which build args does this step use"). Includes
 * names inside defaults such as `${A:-$B}`.
 */
export function referencedNames(word: string, opts: LexOptions = {}): string[] {
  const { matched, unmatched } = expandWord(word, new Map(), { ...opts, skipUnset: true });
  return [...new Set([...matched, ...unmatched])];
}

class ExpandFailure extends Error {}

/** Accumulates fields for processWords: unquoted white space separates words. */
class FieldSplitter {
  private word = '';
  private inWord = false;
  readonly words: string[] = [];

  addChar(ch: string): void {
    if (isSpace(ch)) {
      if (this.inWord && this.word.length > 0) {
        this.words.push(this.word);
        this.word = '';
        this.inWord = false;
      }
      return;
    }
    this.addRaw(ch);
  }

  addSplittable(text: string): void {
    for (const ch of text) this.addChar(ch);
  }

  addRaw(text: string): void {
    this.word += text;
    this.inWord = true;
  }

  finish(): string[] {
    if (this.word.length > 0) this.words.push(this.word);
    this.word = '';
    this.inWord = false;
    return this.words;
  }
}

/**
 * 'normal' is ordinary expansion. 'pattern' is the text of `${v#pattern}`:
 * escapes stay as `\c` and quoted text is glob-escaped, so that the glob
 * matcher can tell `*` from `"*"`.
 */
type Mode = 'normal' | 'pattern';

const SPECIAL_PARAMS = new Set(['@', '*', '#', '?', '-', '$', '!', '0']);

class Expander {
  private readonly chars: string[];
  private pos = 0;
  private readonly esc: string;
  readonly matched = new Set<string>();
  readonly unmatched = new Set<string>();

  constructor(text: string, private readonly env: Env, private readonly opts: LexOptions) {
    this.chars = Array.from(text);
    this.esc = opts.escapeToken ?? '\\';
  }

  private peek(): string | undefined {
    return this.chars[this.pos];
  }

  private next(): string | undefined {
    return this.chars[this.pos++];
  }

  private lookup(name: string): string | undefined {
    const v = this.env.get(name);
    if (v === undefined) this.unmatched.add(name);
    else this.matched.add(name);
    return v;
  }

  /** Process until `stop` (consumed) or the end; `stop === null` means the end of input. */
  processUntil(stop: string | null, mode: Mode): { value: string; words: string[] } {
    let value = '';
    const fields = new FieldSplitter();
    const quotesSpecial = !this.opts.skipQuotes && !this.opts.heredocBody;
    for (let ch = this.peek(); ch !== undefined; ch = this.peek()) {
      if (stop !== null && ch === stop) {
        this.next();
        return { value, words: fields.finish() };
      }
      if (ch === '$') {
        const v = this.dollar();
        value += v;
        fields.addSplittable(v);
      } else if (quotesSpecial && (ch === "'" || ch === '"')) {
        const quoted = ch === "'" ? this.singleQuote() : this.doubleQuote();
        const v = mode === 'pattern' ? escapeGlob(quoted) : quoted;
        value += v;
        fields.addRaw(v);
      } else {
        this.next();
        if (ch === this.esc && this.opts.heredocBody) {
          const after = this.peek();
          if (after === '$' || after === this.esc || after === '`') { value += after; this.next(); }
          else if (after === '\n') this.next();
          else value += ch;
        } else if (ch === this.esc) {
          if (this.opts.rawEscapes) { value += ch; fields.addRaw(ch); }
          const escaped = this.next();
          if (escaped === undefined) break; // a trailing escape is dropped
          const v = mode === 'pattern' ? escapeGlob(escaped) : escaped;
          value += v;
          fields.addRaw(v);
        } else {
          value += ch;
          fields.addChar(ch);
        }
      }
    }
    if (stop !== null) throw new ExpandFailure(`unexpected end of statement while looking for matching ${stop}`);
    return { value, words: fields.finish() };
  }

  /** '…': everything literal up to the next single quote; nothing escapes it. */
  private singleQuote(): string {
    const raw = this.opts.rawQuotes ?? false;
    let out = raw ? "'" : '';
    this.next();
    for (;;) {
      const ch = this.next();
      if (ch === undefined) throw new ExpandFailure('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") return raw ? `${out}'` : out;
      out += ch;
    }
  }

  /** "…": literal except `$…` and the escape before `"`, `$` or itself. */
  private doubleQuote(): string {
    const raw = this.opts.rawQuotes ?? false;
    let out = raw ? '"' : '';
    this.next();
    for (;;) {
      const ch = this.peek();
      if (ch === undefined) throw new ExpandFailure('unexpected end of statement while looking for matching double-quote');
      if (ch === '"') {
        this.next();
        return raw ? `${out}"` : out;
      }
      if (ch === '$') {
        out += this.dollar();
        continue;
      }
      this.next();
      if (ch === this.esc) {
        const after = this.peek();
        if (this.opts.rawEscapes) out += ch;
        if (after === '"' || after === '$' || after === this.esc) {
          out += after;
          this.next();
        } else if (!this.opts.rawEscapes && after !== undefined) {
          out += ch; // any other escape stays literal inside double quotes
        }
        continue;
      }
      out += ch;
    }
  }

  /** A name after `$`: letters/digits/_; all digits (positional); or one special character. */
  private processName(): string {
    let name = '';
    for (let ch = this.peek(); ch !== undefined; ch = this.peek()) {
      if (name === '' && isDigit(ch)) {
        while (this.peek() !== undefined && isDigit(this.peek() as string)) name += this.next();
        return name;
      }
      if (name === '' && SPECIAL_PARAMS.has(ch)) {
        this.next();
        return ch;
      }
      if (!isLetter(ch) && !isDigit(ch) && ch !== '_') break;
      name += this.next();
    }
    return name;
  }

  private dollar(): string {
    this.next(); // $
    if (this.peek() !== '{') {
      const name = this.processName();
      if (name === '') return '$';
      const v = this.lookup(name);
      if (v === undefined && this.opts.skipUnset) return `$${name}`;
      return v ?? '';
    }
    this.next(); // {
    const first = this.peek();
    if (first === undefined) throw new ExpandFailure("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new ExpandFailure('syntax error: bad substitution');
    const name = this.processName();
    let op = this.next();
    if (op === undefined) throw new ExpandFailure("syntax error: missing '}'");
    if (op === '}') {
      const v = this.lookup(name);
      if (v === undefined && this.opts.skipUnset) return `\${${name}}`;
      return v ?? '';
    }
    if (op === '/') return this.substitute(name);
    let spelled = op;
    let nullIsUnset = false;
    if (op === ':') {
      nullIsUnset = true;
      op = this.next();
      if (op === undefined) throw new ExpandFailure("syntax error: missing '}'");
      spelled += op;
    }
    if (!['-', '+', '?', '#', '%'].includes(op)) {
      // `${X:=y}` (assignment) lands here: a Containerfile can't assign.
      throw new ExpandFailure(`unsupported modifier (${spelled}) in substitution`);
    }
    const isPattern = op === '#' || op === '%';
    const word = this.operand('}', isPattern ? 'pattern' : 'normal', "syntax error: missing '}'");
    const v = this.lookup(name);
    if (v === undefined && this.opts.skipUnset) return `\${${name}${spelled}${word}}`;
    const unset = v === undefined || (nullIsUnset && v === '');
    switch (op) {
      case '-': return unset ? word : (v as string);
      case '+': return unset ? '' : word;
      case '?':
        if (v === undefined) throw new ExpandFailure(`${name}: ${word || 'is not allowed to be unset'}`);
        if (nullIsUnset && v === '') throw new ExpandFailure(`${name}: ${word || 'is not allowed to be empty'}`);
        return v;
      default: {
        // `##`/`%%` take the longest match, `#`/`%` the shortest.
        const longest = word.startsWith(op);
        const pattern = longest ? word.slice(1) : word;
        return op === '#' ? removePrefix(v ?? '', pattern, longest) : removeSuffix(v ?? '', pattern, longest);
      }
    }
  }

  /** `${name/pattern/replacement}` and `${name//pattern/replacement}`. */
  private substitute(name: string): string {
    const all = this.peek() === '/';
    if (all) this.next();
    const pattern = this.operand('/', 'pattern', "syntax error: missing '/' in ${}");
    const replacement = this.operand('}', 'normal', "syntax error: missing '}'");
    const v = this.lookup(name);
    if (v === undefined && this.opts.skipUnset) return `\${${name}/${all ? '/' : ''}${pattern}/${replacement}}`;
    return replaceMatches(v ?? '', pattern, replacement, all);
  }

  /** The word inside `${…}` up to `stop`, with a clearer message when the input just ends. */
  private operand(stop: string, mode: Mode, atEnd: string): string {
    try {
      return this.processUntil(stop, mode).value;
    } catch (err) {
      if (err instanceof ExpandFailure && this.peek() === undefined) throw new ExpandFailure(atEnd);
      throw err;
    }
  }
}
