// The loose docker forms of build's key=value flags, as buildx reads them:
// --build-arg NAME (from the environment, or left out), --label NAME (an
// empty value), and --secret's id/src/env/type rules.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBuildArgs, parseLabels, parseSecret } from '../../../src/cli/build-flags.js';

let dir = '';
let cwd = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsbuild-flags-'));
  writeFileSync(join(dir, 'token'), 'file-token');
  writeFileSync(join(dir, 'big'), Buffer.alloc(500 * 1024 + 1));
  mkdirSync(join(dir, 'adir'));
  cwd = process.cwd();
  process.chdir(dir);
});
afterAll(() => {
  process.chdir(cwd);
  rmSync(dir, { recursive: true, force: true });
});

describe('--build-arg', () => {
  it('K=V sets K; a bare K takes the environment, even an empty value', () => {
    const env = { FROM_ENV: 'e', EMPTY: '' };
    expect([...parseBuildArgs(['A=1', 'B=', 'C=x=y', 'FROM_ENV', 'EMPTY'], env)]).toEqual([['A', '1'], ['B', ''], ['C', 'x=y'], ['FROM_ENV', 'e'], ['EMPTY', '']]);
  });
  it('a bare K that the environment lacks is left out, so the ARG keeps its default', () => {
    expect([...parseBuildArgs(['UNSET_HERE'], {})]).toEqual([]);
  });
  it('an empty name is one clear error', () => {
    expect(() => parseBuildArgs(['=v'], {})).toThrow(expect.objectContaining({ code: 'E_USAGE', message: 'invalid --build-arg "=v": the name is empty' }));
  });
});

describe('--label', () => {
  it('K=V, and a bare K is an empty label', () => {
    expect([...parseLabels(['a=1', 'flag', 'c=x=y', 'd='])]).toEqual([['a', '1'], ['flag', ''], ['c', 'x=y'], ['d', '']]);
    expect(() => parseLabels(['=x'])).toThrow('invalid --label "=x": the name is empty');
  });
});

describe('--secret', () => {
  it('src= (or source=) is a file, resolved from the working directory', () => {
    expect(parseSecret('id=t,src=token', {})).toEqual(['t', { kind: 'file', path: join(dir, 'token') }]);
    expect(parseSecret('id=t,source=token', {})).toEqual(['t', { kind: 'file', path: join(dir, 'token') }]);
  });
  it('env=VAR, and type=env,src=VAR, take the value from the environment now', () => {
    expect(parseSecret('id=t,env=TOK', { TOK: 's3' })).toEqual(['t', { kind: 'value', value: Buffer.from('s3') }]);
    expect(parseSecret('type=env,id=t,src=TOK', { TOK: 's4' })).toEqual(['t', { kind: 'value', value: Buffer.from('s4') }]);
    expect(() => parseSecret('id=t,env=TOK', {})).toThrow('--secret t: the environment variable TOK is not set');
  });
  it('id=X alone: the environment variable X if set (even empty), else the file X', () => {
    expect(parseSecret('id=token', { token: 'from-env' })).toEqual(['token', { kind: 'value', value: Buffer.from('from-env') }]);
    expect(parseSecret('id=token', { token: '' })).toEqual(['token', { kind: 'value', value: Buffer.alloc(0) }]);
    expect(parseSecret('id=token', {})).toEqual(['token', { kind: 'file', path: join(dir, 'token') }]);
    expect(() => parseSecret('id=nothing', {})).toThrow('--secret nothing: cannot read nothing: no such file or directory');
  });
  it('rejects malformed specs in one line each', () => {
    const cases: Array<[string, string]> = [
      ['src=token', 'invalid --secret "src=token": the secret needs id=ID'],
      ['id=t,src', 'invalid --secret "id=t,src": field "src" must be a key=value pair'],
      ['id=t,mode=0400', 'invalid --secret "id=t,mode=0400": unknown key "mode" (id, src, env or type)'],
      ['id=t,type=ssh', 'invalid --secret "id=t,type=ssh": unsupported secret type "ssh" (file or env)'],
      ['id=t,src=token,env=X', 'invalid --secret "id=t,src=token,env=X": give src= or env=, not both'],
      ['id=t,src=adir', '--secret t: adir is not a regular file'],
      ['id=t,src=big', '--secret t: big is too big (the limit is 500KB)'],
    ];
    for (const [spec, message] of cases) expect(() => parseSecret(spec, { X: 'x' }), spec).toThrow(expect.objectContaining({ code: 'E_USAGE', message }));
  });
});
