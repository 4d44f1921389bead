// Runs buildkit's data-driven shell expansion tables (envVarTest, wordsTest)
// from ../shared/conformance against our expander, under the rules written
// out in that folder's README (Unix platform: rows A and U, not W).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { processWord, processWords } from '../../../../src/build/shell/lex.js';

const repoRoot = resolve(import.meta.dirname, '../../../..');
const shellDir = resolve(repoRoot, '../shared/conformance/buildkit/shell');

interface EnvVarCase { line: number; input: string; expected: string }

function envVarCases(): EnvVarCase[] {
  const lines = readFileSync(resolve(shellDir, 'envVarTest'), 'utf8').split('\n');
  const cases: EnvVarCase[] = [];
  lines.forEach((text, i) => {
    if (text.startsWith('#') || text.trim() === '') return;
    const fields = text.split('|');
    if (fields.length !== 3) throw new Error(`envVarTest:${i + 1}: expected 3 fields`);
    const [platform, input, expected] = fields.map((f) => f.trim()) as [string, string, string];
    if (platform === 'W') return;
    cases.push({ line: i + 1, input, expected });
  });
  return cases;
}

interface WordsCase { line: number; input: string; expected: string[] | 'error'; env: Map<string, string> }

function wordsCases(): WordsCase[] {
  const lines = readFileSync(resolve(shellDir, 'wordsTest'), 'utf8').split('\n');
  const env = new Map<string, string>();
  const cases: WordsCase[] = [];
  lines.forEach((text, i) => {
    if (text.startsWith('#') || text === '') return;
    if (text.startsWith('ENV ')) {
      const assignment = text.slice(4).replace(/^ +/, '');
      const eq = assignment.indexOf('=');
      env.set(assignment.slice(0, eq), assignment.slice(eq + 1));
      return;
    }
    const fields = text.split('|');
    if (fields.length !== 2) throw new Error(`wordsTest:${i + 1}: expected one |`);
    const input = (fields[0] as string).trim();
    const expectedText = (fields[1] as string).replace(/^ +/, '');
    cases.push({ line: i + 1, input, expected: expectedText === 'error' ? 'error' : expectedText.split(','), env: new Map(env) });
  });
  return cases;
}

const baseEnv = new Map([['PWD', '/home'], ['SHELL', 'bash'], ['KOREAN', '한국어'], ['NULL', '']]);

describe('envVarTest (ProcessWord)', () => {
  const cases = envVarCases();
  it('has the documented number of Unix cases', () => {
    expect(cases.length).toBe(228);
  });
  it.each(cases)('envVarTest:$line $input', ({ input, expected }) => {
    if (expected === 'error') {
      expect(() => processWord(input, baseEnv)).toThrow(expect.objectContaining({ code: 'E_EXPAND' }));
    } else {
      expect(processWord(input, baseEnv)).toBe(expected);
    }
  });
});

describe('wordsTest (ProcessWords)', () => {
  const cases = wordsCases();
  it('has the documented number of cases', () => {
    expect(cases.length).toBe(24);
  });
  it.each(cases)('wordsTest:$line $input', ({ input, expected, env }) => {
    if (expected === 'error') {
      expect(() => processWords(input, env)).toThrow(expect.objectContaining({ code: 'E_EXPAND' }));
    } else {
      expect(processWords(input, env)).toEqual(expected);
    }
  });
});
