// Our own cases for what the conformance tables don't cover: the pattern
// operators (#, ##, %, %%, /, //) with shell globs, quoting inside patterns,
// the backtick escape, lenient (skip-unset) expansion and variable tracking.
import { describe, expect, it } from 'vitest';
import { expandWord, processWord, processWords, referencedNames } from '../../../../src/build/shell/lex.js';

const env = new Map([
  ['v', '/usr/local/bin/app.tar.gz'],
  ['TAG', 'v1.2.3'],
  ['star', 'a*b'],
  ['empty', ''],
  ['list', 'x  y z'],
]);
const expand = (word: string): string => processWord(word, env);

describe('pattern operators', () => {
  it.each([
    ['${v#*/}', 'usr/local/bin/app.tar.gz'],
    ['${v##*/}', 'app.tar.gz'],
    ['${v%.*}', '/usr/local/bin/app.tar'],
    ['${v%%.*}', '/usr/local/bin/app'],
    ['${TAG#v}', '1.2.3'],
    ['${TAG%%.*}', 'v1'],
    ['${TAG%.*}', 'v1.2'],
    ['${v%.t?r.gz}', '/usr/local/bin/app'],
    ['${v#/usr/[a-z]*/}', 'bin/app.tar.gz'],
    ['${v##/usr/[a-z]*/}', 'app.tar.gz'],
    ['${v#nomatch}', '/usr/local/bin/app.tar.gz'],
    ['${v%[!.]*}', '/usr/local/bin/app.tar.g'],
    ['${nope#x}', ''],
    ['${empty%%*}', ''],
  ])('%s → %s', (word, expected) => {
    expect(expand(word)).toBe(expected);
  });

  it.each([
    ['${v/local/opt}', '/usr/opt/bin/app.tar.gz'],
    ['${v//\\//:}', ':usr:local:bin:app.tar.gz'],
    ['${v//a/}', '/usr/locl/bin/pp.tr.gz'],
    ['${v/l*l/X}', '/usr/X/bin/app.tar.gz'],
    ['${v/[!a-z]/_}', '_usr/local/bin/app.tar.gz'],
    ['${v//[.\\/]/-}', '-usr-local-bin-app-tar-gz'],
    ['${TAG/?/V}', 'V1.2.3'],
    ['${TAG//./_}', 'v1_2_3'],
    ['${TAG/9/x}', 'v1.2.3'],
    ['${nope/a/b}', ''],
  ])('%s → %s', (word, expected) => {
    expect(expand(word)).toBe(expected);
  });

  it('treats quoted pattern text literally, as sh does', () => {
    expect(expand('${star%"*b"}')).toBe('a');
    expect(expand('${star%*b}')).toBe('a*');
    expect(expand("${v%'*'}")).toBe('/usr/local/bin/app.tar.gz');
    expect(expand('${star/\\*/+}')).toBe('a+b');
  });

  it('expands variables inside patterns and replacements', () => {
    const e = new Map([['p', '/usr'], ['r', 'R'], ['path', '/usr/lib']]);
    expect(processWord('${path#$p}', e)).toBe('/lib');
    expect(processWord('${path/lib/$r}', e)).toBe('/usr/R');
  });

  it('rejects unterminated pattern operators', () => {
    expect(() => expand('${v#*')).toThrow(/missing '}'/);
    expect(() => expand('${v/a}')).toThrow(/missing '\/'/);
    expect(() => expand('${v/a/b')).toThrow(/missing '}'/);
  });
});

describe('other expansion rules', () => {
  it('splits only unquoted expansions into words', () => {
    expect(processWords('a $list "$list"', env)).toEqual(['a', 'x', 'y', 'z', 'x  y z']);
  });

  it('honours the backtick escape character', () => {
    const opts = { escapeToken: '`' };
    expect(processWord('a`$v', env, opts)).toBe('a$v');
    expect(processWord('C:\\dir', env, opts)).toBe('C:\\dir');
  });

  it('reports the error operator with its message', () => {
    expect(() => expand('${nope:?set nope first}')).toThrow(/nope: set nope first/);
    expect(() => expand('${empty:?}')).toThrow(/empty: is not allowed to be empty/);
    expect(expand('${empty?}')).toBe('');
  });

  it('leaves unset variables as written in lenient (skip-unset) mode', () => {
    const opts = { skipUnset: true };
    expect(processWord('$nope/${nope}/${nope:-d}/${TAG}', env, opts)).toBe('$nope/${nope}/${nope:-d}/v1.2.3');
    expect(processWord('${nope/a/b}', env, opts)).toBe('${nope/a/b}');
  });

  it('records which variables a word looked up', () => {
    const r = expandWord('${TAG:-$nope}/$v/${missing}', env);
    expect([...r.matched].sort()).toEqual(['TAG', 'v']);
    // Like buildkit, the default word is evaluated (and its names looked up) even when unused.
    expect([...r.unmatched].sort()).toEqual(['missing', 'nope']);
    expect(referencedNames('${A:-$B}/$C "${D}" \'$E\'').sort()).toEqual(['A', 'B', 'C', 'D']);
  });

  it('expands heredoc bodies like a shell heredoc: quotes stay, \\$ escapes', () => {
    const body = 'echo "$TAG" \'$TAG\' \\$TAG \\n\n';
    expect(processWord(body, env, { heredocBody: true })).toBe('echo "v1.2.3" \'v1.2.3\' $TAG \\n\n');
  });
});
