// The error codes are one closed set (src/errors.ts ERROR_CODES and the
// native module's codes, src/native/errors.ts, whose list
// test/unit/native/errors.test.ts holds to the crate). The type already
// refuses a TsbuildError with any other code; this test also holds our set
// to what src/ uses (no stale entries, no literal outside it, e.g. in a
// comparison or a comment) and to the README's errors table.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, NATIVE_ERROR_MEANINGS } from '../../src/errors.js';
import { BINDING_ERROR_CODES, NATIVE_ERROR_CODES } from '../../src/native/errors.js';
// @ts-expect-error: a plain .mjs script
import { errorsTable } from '../../scripts/errors-table.mjs';

const repo = resolve(import.meta.dirname, '../..');
const CODE = /\bE_[A-Z0-9]+(?:_[A-Z0-9]+)*\b/g;

function files(dir: string, ext: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return files(p, ext);
    return e.name.endsWith(ext) ? [p] : [];
  });
}

/** Codes a file names, outside the two code tables themselves. */
function codesIn(file: string): string[] {
  let text = readFileSync(file, 'utf8');
  text = text.replace(/export const (?:ERROR_CODES|NATIVE_ERROR_MEANINGS) = \{[\s\S]*?\n\} as const/g, '');
  return text.match(CODE) ?? [];
}

const tsCodes = Object.keys(ERROR_CODES);
const nativeCodes: string[] = [...NATIVE_ERROR_CODES, ...BINDING_ERROR_CODES];
const all = new Set([...tsCodes, ...nativeCodes]);

describe('error codes', () => {
  it('every code src/ names is in ErrorCode', () => {
    const unknown = files(join(repo, 'src'), '.ts').flatMap((f) => codesIn(f).filter((c) => !all.has(c)).map((c) => `${c} (${f.slice(repo.length + 1)})`));
    expect(unknown).toEqual([]);
  });

  it('every TypeScript code is thrown somewhere in src/', () => {
    const used = new Set(files(join(repo, 'src'), '.ts').flatMap(codesIn));
    expect(tsCodes.filter((c) => !used.has(c))).toEqual([]);
  });

  it('every native code has one meaning, and only those', () => {
    expect(Object.keys(NATIVE_ERROR_MEANINGS).sort()).toEqual([...nativeCodes].sort());
  });

  it('the two sets do not share a code, and each meaning is one line', () => {
    expect(nativeCodes.filter((c) => tsCodes.includes(c))).toEqual([]);
    for (const meaning of [...Object.values(ERROR_CODES), ...Object.values(NATIVE_ERROR_MEANINGS)] as string[]) {
      expect(meaning).toMatch(/^[^\n]+$/);
    }
  });

  it('the generated table lists every code once', () => {
    const rows = (errorsTable(ERROR_CODES, NATIVE_ERROR_MEANINGS) as string).split('\n').slice(2).map((r) => /^\| `(E_[A-Z0-9_]+)` \|/.exec(r)?.[1]);
    expect(rows).toEqual([...tsCodes, ...Object.keys(NATIVE_ERROR_MEANINGS)]);
  });
});

// README.md's "## Errors" table is `node scripts/errors-table.mjs` output; a code added without a
// README line (or a README line left for a removed code) fails here.
const readme = readFileSync(join(repo, 'README.md'), 'utf8');
const readmeCodes = [...readme.matchAll(/^\| `(E_[A-Z0-9_]+)` \|/gm)].map((m) => m[1]);

describe('README errors table', () => {
  it('lists exactly the codes of ErrorCode, each once', () => {
    expect([...readmeCodes].sort()).toEqual([...all].sort());
  });
});
