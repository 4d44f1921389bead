// How each keyword's arguments are split, before any interpretation. These
// are docker's rules and they differ per instruction (see the conformance
// README): RUN/CMD/ENTRYPOINT/SHELL keep a shell-form line whole, ADD/COPY/
// VOLUME split it on white space, ENV/LABEL produce key/value pairs with
// quotes kept, and unknown keywords get no arguments at all (the instruction
// stage reports them, with a suggestion).
import { fail, shown } from './located-error.js';
import { parseJsonArray } from './json-args.js';
import { isSpace } from '../shell/unicode.js';

export interface LineParse {
  args: string[];
  json: boolean;
}

export type LineParser = (rest: string, escape: string) => LineParse;

const WHITESPACE_RUN = /[\t\v\f\r ]+/;
const none: LineParse = { args: [], json: false };

/** RUN, CMD, ENTRYPOINT, SHELL: a JSON array, or the whole line as one argument. */
export function parseMaybeJson(rest: string): LineParse {
  if (rest === '') return none;
  const json = parseJsonArray(rest);
  return json ? { args: json, json: true } : { args: [rest], json: false };
}

/** ADD, COPY, VOLUME: a JSON array, or the line split on white space. */
export function parseMaybeJsonToList(rest: string): LineParse {
  const json = parseJsonArray(rest);
  return json ? { args: json, json: true } : parseWhitespaceDelimited(rest);
}

/** FROM, EXPOSE. */
export function parseWhitespaceDelimited(rest: string): LineParse {
  return rest === '' ? none : { args: rest.split(WHITESPACE_RUN), json: false };
}

/** USER, WORKDIR, MAINTAINER, STOPSIGNAL: the rest of the line, whole. */
export function parseWholeLine(rest: string): LineParse {
  return rest === '' ? none : { args: [rest], json: false };
}

/** ARG: words as written; `abc="123 456"` stays one word, quotes included. */
export function parseWordList(rest: string, escape: string): LineParse {
  return { args: splitWords(rest, escape), json: false };
}

export function parseEnv(rest: string, escape: string): LineParse {
  return parseKeyValues(rest, escape, 'ENV');
}

export function parseLabel(rest: string, escape: string): LineParse {
  return parseKeyValues(rest, escape, 'LABEL');
}

/** HEALTHCHECK: a type word (CMD, NONE, …), then the rest like CMD. */
export function parseHealthcheck(rest: string): LineParse {
  let sep = 0;
  while (sep < rest.length && !isSpace(rest[sep] as string)) sep++;
  if (sep === 0) return none;
  let next = sep;
  while (next < rest.length && isSpace(rest[next] as string)) next++;
  const cmd = parseMaybeJson(rest.slice(next));
  return { args: [rest.slice(0, sep), ...cmd.args], json: cmd.json };
}

export function parseIgnore(): LineParse {
  return none;
}

/**
 * `KEY value` (legacy: one pair, the value is the rest of the line) or
 * `K1=v1 K2="v 2"` (any number of pairs). Values stay raw; expansion later
 * removes quotes. The output is flat (key, value, separator) triples.
 */
function parseKeyValues(rest: string, escape: string, keyword: string): LineParse {
  const words = splitWords(rest, escape);
  const first = words[0];
  if (first === undefined) return none;
  if (!first.includes('=')) {
    const m = WHITESPACE_RUN.exec(rest);
    if (!m) fail('E_MISSING_ARG', `${keyword} ${shown(rest)} has no value: use ${keyword} ${shown(rest)}=VALUE or ${keyword} ${shown(rest)} VALUE`);
    return { args: [rest.slice(0, m.index), rest.slice(m.index + m[0].length), ''], json: false };
  }
  const args: string[] = [];
  for (const word of words) {
    const eq = word.indexOf('=');
    if (eq < 0) fail('E_PARSE', `${keyword}: can't find = in ${JSON.stringify(word)}; it must be of the form name=value`);
    args.push(word.slice(0, eq), word.slice(eq + 1), '=');
  }
  return { args, json: false };
}

/**
 * Split on unquoted white space, keeping quotes and escapes in the words
 * (they are removed later, by expansion). An escape character at the very
 * end is dropped.
 */
export function splitWords(rest: string, escape: string): string[] {
  const chars = Array.from(rest);
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote = '';
  for (let i = 0; i < chars.length; i++) {
    let ch = chars[i] as string;
    if (quote === '') {
      if (isSpace(ch)) {
        if (inWord && word.length > 0) words.push(word);
        word = '';
        inWord = false;
        continue;
      }
      inWord = true;
      if (ch === "'" || ch === '"') quote = ch;
      else if (ch === escape) {
        if (i + 1 === chars.length) continue;
        word += ch;
        ch = chars[++i] as string;
      }
      word += ch;
      continue;
    }
    // Inside quotes: the escape works except in single quotes.
    if (ch === quote) quote = '';
    else if (ch === escape && quote !== "'") {
      if (i + 1 === chars.length) {
        quote = '';
        continue;
      }
      word += ch;
      ch = chars[++i] as string;
    }
    word += ch;
  }
  if (word.length > 0) words.push(word);
  return words;
}
