// buildkit's golden parser corpus (../shared/conformance/buildkit/parser):
// every positive case must dump exactly to its `result`, every negative case
// must fail with a located TsbuildError, and line ranges must match upstream's
// TestParseIncludesLineNumbers.
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dumpAst } from '../../../../src/build/parser/dump.js';
import { parseContainerfile } from '../../../../src/build/parser/parser.js';
import { TsbuildError } from '../../../../src/errors.js';

const repoRoot = resolve(import.meta.dirname, '../../../..');
const parserDir = resolve(repoRoot, '../shared/conformance/buildkit/parser');

function cases(dir: string): string[] {
  return readdirSync(resolve(parserDir, dir)).sort();
}

describe('testfiles (positive)', () => {
  const names = cases('testfiles');
  it('has all 33 cases', () => {
    expect(names).toHaveLength(33);
  });
  it.each(names)('%s dumps to its result', (name) => {
    const source = readFileSync(resolve(parserDir, 'testfiles', name, 'Dockerfile'), 'utf8');
    const expected = readFileSync(resolve(parserDir, 'testfiles', name, 'result'), 'utf8');
    const parsed = parseContainerfile(source, { file: 'Dockerfile' });
    expect(dumpAst(parsed.nodes)).toBe(expected);
  });
});

describe('testfiles-negative', () => {
  const names = cases('testfiles-negative');
  it('has all 4 cases', () => {
    expect(names).toEqual(['empty_dockerfile', 'env_no_value', 'only_comments', 'shykes-nested-json']);
  });
  it.each(names)('%s fails with a located error', (name) => {
    const source = readFileSync(resolve(parserDir, 'testfiles-negative', name, 'Dockerfile'), 'utf8');
    let caught: unknown;
    try {
      parseContainerfile(source, { file: 'Dockerfile' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TsbuildError);
    const err = caught as TsbuildError;
    expect(err.location?.file).toBe('Dockerfile');
    expect(err.location?.line).toBeGreaterThanOrEqual(1);
  });
  it('reports ENV without a value on its line', () => {
    const source = readFileSync(resolve(parserDir, 'testfiles-negative/env_no_value/Dockerfile'), 'utf8');
    expect(() => parseContainerfile(source, { file: 'Dockerfile' })).toThrow(
      expect.objectContaining({ code: 'E_MISSING_ARG', location: { file: 'Dockerfile', line: 3 } }),
    );
  });
  it('reports nested JSON on its line', () => {
    const source = readFileSync(resolve(parserDir, 'testfiles-negative/shykes-nested-json/Dockerfile'), 'utf8');
    expect(() => parseContainerfile(source, { file: 'Dockerfile' })).toThrow(
      expect.objectContaining({ code: 'E_PARSE', location: { file: 'Dockerfile', line: 1 } }),
    );
  });
});

describe('testfile-line', () => {
  it('gives each instruction its 1-based inclusive line range', () => {
    const source = readFileSync(resolve(parserDir, 'testfile-line/Dockerfile'), 'utf8');
    const parsed = parseContainerfile(source, { file: 'Dockerfile' });
    expect(parsed.nodes.map((n) => [n.startLine, n.endLine])).toEqual([[5, 5], [11, 12], [17, 31]]);
    expect(parsed.nodes[0]?.startLine).toBe(5);
    expect(parsed.nodes.at(-1)?.endLine).toBe(31);
  });
});
