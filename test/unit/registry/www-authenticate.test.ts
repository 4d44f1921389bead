import { describe, expect, it } from 'vitest';
import { parseWwwAuthenticate, pickChallenge } from '../../../src/registry/www-authenticate.js';

describe('parseWwwAuthenticate', () => {
  it('parses a Basic challenge', () => {
    expect(parseWwwAuthenticate('Basic realm="Registry Realm"')).toEqual([
      { scheme: 'basic', params: { realm: 'Registry Realm' } },
    ]);
  });

  it('parses a Bearer challenge with commas inside quotes', () => {
    const h = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push"';
    expect(parseWwwAuthenticate(h)).toEqual([{
      scheme: 'bearer',
      params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull,push' },
    }]);
  });

  it('accepts unquoted tokens, spaces and mixed-case names', () => {
    expect(parseWwwAuthenticate('BEARER  Realm = https://a/t , Service=reg')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://a/t', service: 'reg' } },
    ]);
  });

  it('unescapes quoted pairs', () => {
    expect(parseWwwAuthenticate('Basic realm="a \\"quoted\\" \\\\ realm"')[0]?.params.realm).toBe('a "quoted" \\ realm');
  });

  it('splits several challenges in one header', () => {
    const cs = parseWwwAuthenticate('Basic realm="r1", Bearer realm="https://t",scope="a:b:pull", error="insufficient_scope"');
    expect(cs).toEqual([
      { scheme: 'basic', params: { realm: 'r1' } },
      { scheme: 'bearer', params: { realm: 'https://t', scope: 'a:b:pull', error: 'insufficient_scope' } },
    ]);
    expect(pickChallenge(cs)?.scheme).toBe('bearer');
  });

  it('tolerates garbage without throwing', () => {
    expect(() => parseWwwAuthenticate('=,,"unterminated')).not.toThrow();
    expect(parseWwwAuthenticate('')).toEqual([]);
    expect(parseWwwAuthenticate('Bearer realm="unterminated')[0]?.params.realm).toBe('unterminated');
  });

  it('picks basic when no bearer is offered', () => {
    expect(pickChallenge(parseWwwAuthenticate('Negotiate, Basic realm=x'))?.scheme).toBe('basic');
    expect(pickChallenge(parseWwwAuthenticate('Negotiate'))).toBeUndefined();
  });
});
