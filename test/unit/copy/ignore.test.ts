import { describe, expect, it } from 'vitest';
import { IgnoreMatcher, parseIgnoreFile } from '../../../src/build/context/index.js';
import { compileSegment } from '../../../src/build/context/pattern.js';

const matcher = (text: string) => new IgnoreMatcher(parseIgnoreFile(text));

describe('parseIgnoreFile', () => {
  it('drops comments and blank lines, trims, cleans and makes patterns relative', () => {
    expect(parseIgnoreFile('\uFEFF# comment\n\n  node_modules  \n/abs/x\n./a/../b/\n! keep.txt\n#!not\n')).toEqual(['node_modules', 'abs/x', 'b', '!keep.txt']);
  });
});

describe('IgnoreMatcher', () => {
  // [patterns, path, ignored]
  const table: Array<[string, string, boolean]> = [
    ['*.log', 'a.log', true],
    ['*.log', 'sub/a.log', false], // `*` does not cross directories
    ['**/*.log', 'sub/deep/a.log', true],
    ['**/*.log', 'a.log', true],
    ['sub/**', 'sub/x/y', true],
    ['sub/**', 'subway', false],
    ['a/**/z', 'a/z', true],
    ['a/**/z', 'a/b/c/z', true],
    ['a/**/z', 'b/a/z', false],
    ['build', 'build/out/bin', true], // a parent directory's match covers its contents
    ['b?ild', 'build', true],
    ['[a-c]*', 'beta', true],
    ['[^a-c]*', 'beta', false],
    ['[^a-c]*', 'zeta', true],
    ['\\*star', '*star', true],
    ['\\*star', 'xstar', false],
    ['/rooted', 'rooted', true],
    ['*\n!keep.txt', 'keep.txt', false],
    ['*\n!keep.txt', 'other.txt', true],
    ['*.txt\n!keep.txt\nkeep.txt', 'keep.txt', true], // last match wins
    ['logs\n!logs/keep', 'logs/keep', false],
    ['logs\n!logs/keep', 'logs/drop', true],
    ['**\n!src/**/*.ts', 'src/a/b.ts', false],
    ['**\n!src/**/*.ts', 'src/a/b.js', true],
    ['Containerfile', 'Containerfile', true],
  ];
  it.each(table)('%j on %s → %s', (patterns, path, ignored) => {
    expect(matcher(patterns).ignores(path)).toBe(ignored);
  });

  it('says which ignored directories an exception may reach into', () => {
    const m = matcher('logs\nvendor\n!logs/keep/*.txt\n!**/important');
    expect(m.mayIncludeBelow('logs')).toBe(true);
    expect(m.mayIncludeBelow('logs/keep')).toBe(true);
    expect(m.mayIncludeBelow('vendor')).toBe(true); // `**/important` may be anywhere
    const n = matcher('logs\nvendor\n!logs/keep');
    expect(n.mayIncludeBelow('vendor')).toBe(false);
    expect(n.mayIncludeBelow('logs')).toBe(true);
    expect(n.mayIncludeBelow('logs/other')).toBe(false);
    expect(matcher('logs').mayIncludeBelow('logs')).toBe(false);
  });

  it('rejects a lone "!" and malformed classes', () => {
    expect(() => matcher('!')).toThrow(/illegal exclusion pattern/);
    expect(() => matcher('[abc')).toThrow(/invalid pattern/);
  });
});

describe('filepath.Match segments', () => {
  const table: Array<[string, string, boolean]> = [
    ['*', '.hidden', true], // Go's Match has no dotfile rule
    ['*.go', 'main.go', true],
    ['?', 'ab', false],
    ['[a-c]', 'b', true],
    ['a\\?', 'a?', true],
    ['a\\?', 'ab', false],
  ];
  it.each(table)('%s on %s → %s', (pattern, name, ok) => {
    expect(compileSegment(pattern).test(name)).toBe(ok);
  });
});
