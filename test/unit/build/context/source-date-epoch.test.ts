// Which SOURCE_DATE_EPOCH a build uses: flag over build arg over the
// environment over git; `now` opts out of all of them; bad values are a
// one-line usage error.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveSourceDateEpoch } from '../../../../src/build/context/source-date-epoch.js';

const dir = mkdtempSync(join(tmpdir(), 'tsbuild-sde-')); // not in a git work tree
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const resolve = (flag: string | undefined, arg: string | undefined, envValue: string | undefined) =>
  resolveSourceDateEpoch({ ...(flag !== undefined ? { flag } : {}), buildArgs: new Map(arg !== undefined ? [['SOURCE_DATE_EPOCH', arg]] : []), env: envValue !== undefined ? { SOURCE_DATE_EPOCH: envValue } : {}, contextDir: dir });

describe('resolveSourceDateEpoch', () => {
  it('takes the flag, then the build arg, then the environment', () => {
    expect(resolve('1', '2', '3')).toEqual({ seconds: 1, source: 'flag' });
    expect(resolve(undefined, '2', '3')).toEqual({ seconds: 2, source: 'build-arg' });
    expect(resolve(undefined, undefined, '3')).toEqual({ seconds: 3, source: 'env' });
    expect(resolve(undefined, undefined, '')).toBeUndefined(); // empty is unset
    expect(resolve(undefined, undefined, undefined)).toBeUndefined(); // and no git here
  });

  it('`now` opts out, even of a value given further down', () => {
    expect(resolve('now', '2', '3')).toBeUndefined();
    expect(resolve(undefined, undefined, 'now')).toBeUndefined();
  });

  it('rejects what is not a whole number of seconds', () => {
    expect(() => resolve('-5', undefined, undefined)).toThrow('invalid --source-date-epoch "-5": expected seconds since 1970 (an integer) or "now"');
    expect(() => resolve(undefined, undefined, '1.5')).toThrow('invalid SOURCE_DATE_EPOCH in the environment "1.5"');
  });
});
