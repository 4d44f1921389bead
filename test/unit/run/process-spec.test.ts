import { describe, expect, it } from 'vitest';
import { commandLine, containerEnv, execCandidates, mergeEnv, workingDir } from '../../../src/run/process-spec.js';

describe('commandLine', () => {
  it('combines ENTRYPOINT with CMD or the user command, as docker run does', () => {
    expect(commandLine({ Entrypoint: ['/ep'], Cmd: ['a'] }, [])).toEqual(['/ep', 'a']);
    expect(commandLine({ Entrypoint: ['/ep'], Cmd: ['a'] }, ['b', 'c'])).toEqual(['/ep', 'b', 'c']);
    expect(commandLine({ Cmd: ['sh'] }, [])).toEqual(['sh']);
    expect(commandLine({ Entrypoint: ['/ep'], Cmd: ['a'] }, ['x'], 'sh')).toEqual(['sh', 'x']);
    expect(commandLine({ Entrypoint: ['/ep'], Cmd: ['a'] }, [], 'sh')).toEqual(['sh']);
  });
  it('fails without any command', () => {
    expect(() => commandLine({}, [])).toThrow(/no command specified/);
  });
});

describe('environment', () => {
  it('overrides by key and keeps first-seen order', () => {
    expect(mergeEnv(['A=1', 'B=2'], ['A=3', 'C=4'])).toEqual(['A=3', 'B=2', 'C=4']);
  });
  it('fills PATH, HOSTNAME, HOME and TERM', () => {
    const env = containerEnv({ Env: ['FOO=bar'] }, ['X=y'], { hostname: 'h', home: '/root', tty: true });
    expect(env).toEqual(['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOSTNAME=h', 'FOO=bar', 'X=y', 'HOME=/root', 'TERM=xterm']);
    expect(containerEnv({ Env: ['PATH=/x', 'HOME=/h'] }, [], { hostname: 'h', home: '/root', tty: false })).toEqual(['PATH=/x', 'HOSTNAME=h', 'HOME=/h']);
  });
});

describe('execCandidates', () => {
  it('searches PATH for bare names and resolves relative paths against the cwd', () => {
    expect(execCandidates('ls', ['PATH=/bin:/usr/bin'], '/')).toEqual(['/bin/ls', '/usr/bin/ls']);
    expect(execCandidates('./run.sh', [], '/app')).toEqual(['/app/run.sh']);
    expect(execCandidates('/bin/sh', [], '/app')).toEqual(['/bin/sh']);
  });
  it('rejects relative working directories', () => {
    expect(workingDir({ WorkingDir: '/srv/' })).toBe('/srv/');
    expect(() => workingDir({}, 'rel')).toThrow(/absolute/);
  });
});
