import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { applyCopy } from '../../../../src/build/copy/index.js';
import { findIgnoreFile, IgnoreMatcher, parseIgnoreFile } from '../../../../src/build/context/index.js';
import { compileIgnorePattern } from '../../../../src/build/context/ignore-pattern.js';
import { compileSegment } from '../../../../src/build/context/pattern.js';
import { cleanupTemp, contextStep, copyIns, listing, tempDir, tree } from '../../../shared/copy-steps.js';

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

  it('enters an ignored directory only for an exception that starts with its path (docker 20.10, buildah 1.28)', () => {
    const m = matcher('logs\nvendor\n!logs/keep/*.txt\n!**/important\n!*/sub1*');
    expect(m.mayIncludeBelow('logs')).toBe(true);
    expect(m.mayIncludeBelow('logs/keep')).toBe(true);
    expect(m.mayIncludeBelow('logs/other')).toBe(false);
    expect(m.mayIncludeBelow('vendor')).toBe(false); // `**/important` and `*/sub1*` start with a wildcard
    expect(m.hides('vendor/important', false)).toBe(true);
    expect(m.ignores('vendor/important')).toBe(false); // the pattern itself matches; the walk never gets there
    expect(m.hides('important', false)).toBe(false);
    expect(matcher('logs').mayIncludeBelow('logs')).toBe(false);
    // --exclude's looser reach: any exception that could match below.
    expect(new IgnoreMatcher(['vendor', '!**/important'], '--exclude', 'pattern').mayIncludeBelow('vendor')).toBe(true);
    const x = new IgnoreMatcher(['logs', '!logs/keep'], '--exclude', 'pattern');
    expect(x.mayIncludeBelow('logs')).toBe(true);
    expect(x.mayIncludeBelow('logs/other')).toBe(false);
  });

  it('rejects a lone "!" and what Go\'s filepath.Match calls malformed', () => {
    expect(() => matcher('!')).toThrow(/illegal exclusion pattern/);
    for (const bad of ['[abc', '[]a]', '[-a]', '[a-]', 'x\\', '[\\']) expect(() => matcher(bad), bad).toThrow(/invalid pattern/);
    for (const ok of ['[\\]]', 'a]', '{x}']) expect(() => matcher(ok), ok).not.toThrow();
    // Legal for filepath.Match, but not as a regexp class (Go's regexp rejects it too, when matching).
    expect(() => matcher('[z-a]')).toThrow(/invalid pattern/);
  });
});

// patternmatcher.go's own match types, pattern by pattern.
describe('patternmatcher patterns', () => {
  const table: Array<[string, string, boolean]> = [
    ['a+b(c)', 'a+b(c)', true], // exact: no wildcard, so regexp characters are literal
    ['d^e', 'd^e', true],
    ['foo**', 'foobar/x', true], // prefix
    ['foo/**', 'foo', false],
    ['foo/**', 'foo/x', true],
    ['**/x', 'x', true], // suffix, and the name itself
    ['**/x', 'ax', false],
    ['**x', 'a/bx', true],
    ['**', 'anything/at/all', true],
    ['**/*.go', 'a/b.go', true], // regexp after a leading **
    ['a/**/b/**', 'a/b/c', true],
    ['a/**/b/**', 'a/b', false],
    ['[^a]', '/', true], // a class is a regexp class: it may match `/`
    ['a?c', 'a/c', false],
    ['a\\.c', 'a.c', true],
    ['a\\.c', 'abc', false],
    ['\\d', '7', true], // `\\d` passes through to the regexp, as in patternmatcher
  ];
  it.each(table)('%s on %s → %s', (pattern, path, ok) => {
    expect(compileIgnorePattern(pattern)(path)).toBe(ok);
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
    ['[z-a]x', 'ax', false], // an inverted range is legal and matches nothing
    ['[^z-a]x', 'ax', true],
    ['[\\]]', ']', true],
    ['[a\\-c]', '-', true],
  ];
  it.each(table)('%s on %s → %s', (pattern, name, ok) => {
    expect(compileSegment(pattern).test(name)).toBe(ok);
  });
});

// The corpus of test/fixtures/ignore/cases.json, whose answers BuildKit
// (docker 20.10) and buildah 1.28 gave: the walk of each context, as
// `COPY . /` sees it.
describe('ignore cases checked against the oracles', () => {
  const cases = (JSON.parse(readFileSync(fileURLToPath(new URL('../../../fixtures/ignore/cases.json', import.meta.url)), 'utf8')) as {
    cases: Array<{ name: string; ignore: string; files: string[]; visible: string[] }>;
  }).cases;
  afterEach(cleanupTemp);
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const ctx = tree(tempDir(), Object.fromEntries(c.files.map((f) => [f, f.endsWith('/') ? null : ''])));
    const layer = tempDir('tsb-layer-');
    const step = contextStep(copyIns(['.'], '/'), ctx, [], { ignore: new IgnoreMatcher(parseIgnoreFile(c.ignore)) });
    await applyCopy(step, layer);
    expect(listing(layer).map((e) => e.replace(/=$/, ''))).toEqual(c.visible);
  });
});

// Which file: measured with BuildKit (docker 20.10) and buildah 1.28. Both
// use `<file>.dockerignore` over the context's, and over
// `<file>.containerignore` when both are there; only buildah knows
// `<file>.containerignore`, which we honour too, as the context's
// .containerignore.
describe('findIgnoreFile', () => {
  afterEach(cleanupTemp);
  it('prefers the Containerfile\'s own ignore file, then the context\'s', () => {
    const ctx = tree(tempDir(), { '.dockerignore': 'a', 'Alt': '', 'Alt.dockerignore': 'b', 'Both': '', 'Both.dockerignore': 'c', 'Both.containerignore': 'd', 'Cont': '', 'Cont.containerignore': 'd', 'Plain': '' });
    const at = (name: string, display = name) => findIgnoreFile(ctx, { path: join(ctx, name), display })?.display;
    expect(at('Alt')).toBe('Alt.dockerignore');
    expect(at('Both')).toBe('Both.dockerignore');
    expect(at('Cont')).toBe('Cont.containerignore');
    expect(at('Plain')).toBe('.dockerignore');
    expect(findIgnoreFile(ctx)?.display).toBe('.dockerignore');
    const other = tree(tempDir(), { 'sub/Containerfile': '', 'sub/Containerfile.dockerignore': 'x' });
    expect(findIgnoreFile(ctx, { path: join(other, 'sub/Containerfile'), display: 'sub/Containerfile' })).toEqual({ path: join(other, 'sub/Containerfile.dockerignore'), display: 'sub/Containerfile.dockerignore' });
    const both = tree(tempDir(), { '.dockerignore': 'a', '.containerignore': 'b' });
    expect(findIgnoreFile(both)?.display).toBe('.containerignore');
    expect(findIgnoreFile(tempDir())).toBeUndefined();
  });
});
