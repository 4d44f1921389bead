// Reference normalisation as docker does it (distribution/reference tests).
import { describe, expect, it } from 'vitest';
import { apiHost, normaliseRegistry, parseReference, withTag } from '../../../src/reference/index.js';
import { TsbuildError } from '../../../src/errors.js';

const D = 'sha256:' + 'a'.repeat(64);

describe('parseReference', () => {
  it.each([
    ['busybox', 'docker.io', 'library/busybox', 'latest', undefined, 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['busybox:1.36', 'docker.io', 'library/busybox', '1.36', undefined, 'docker.io/library/busybox:1.36', 'busybox:1.36'],
    ['library/busybox', 'docker.io', 'library/busybox', 'latest', undefined, 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['docker.io/library/busybox:latest', 'docker.io', 'library/busybox', 'latest', undefined, 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['index.docker.io/library/busybox', 'docker.io', 'library/busybox', 'latest', undefined, 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['user/app', 'docker.io', 'user/app', 'latest', undefined, 'docker.io/user/app:latest', 'user/app:latest'],
    ['docker.io/user/app:v2', 'docker.io', 'user/app', 'v2', undefined, 'docker.io/user/app:v2', 'user/app:v2'],
    ['localhost/app', 'localhost', 'app', 'latest', undefined, 'localhost/app:latest', 'localhost/app:latest'],
    ['localhost:5000/a/b:tag', 'localhost:5000', 'a/b', 'tag', undefined, 'localhost:5000/a/b:tag', 'localhost:5000/a/b:tag'],
    ['127.0.0.1:5000/x:1', '127.0.0.1:5000', 'x', '1', undefined, '127.0.0.1:5000/x:1', '127.0.0.1:5000/x:1'],
    ['quay.io/ns/name', 'quay.io', 'ns/name', 'latest', undefined, 'quay.io/ns/name:latest', 'quay.io/ns/name:latest'],
    [`host:5000/ns/name@${D}`, 'host:5000', 'ns/name', undefined, D, `host:5000/ns/name@${D}`, `host:5000/ns/name@${D}`],
    [`busybox:1@${D}`, 'docker.io', 'library/busybox', '1', D, `docker.io/library/busybox:1@${D}`, `busybox:1@${D}`],
    [`busybox@${D}`, 'docker.io', 'library/busybox', undefined, D, `docker.io/library/busybox@${D}`, `busybox@${D}`],
    ['[::1]:5000/app:x', '[::1]:5000', 'app', 'x', undefined, '[::1]:5000/app:x', '[::1]:5000/app:x'],
    ['a/b/c/d.e__f-g', 'docker.io', 'a/b/c/d.e__f-g', 'latest', undefined, 'docker.io/a/b/c/d.e__f-g:latest', 'a/b/c/d.e__f-g:latest'],
    ['Host/app', 'Host', 'app', 'latest', undefined, 'Host/app:latest', 'Host/app:latest'],
    ['docker.io/library/a/b', 'docker.io', 'library/a/b', 'latest', undefined, 'docker.io/library/a/b:latest', 'library/a/b:latest'],
  ])('%s', (input, registry, repository, tag, digest, full, familiar) => {
    const r = parseReference(input);
    expect(r.registry).toBe(registry);
    expect(r.repository).toBe(repository);
    expect(r.tag).toBe(tag);
    expect(r.digest).toBe(digest);
    expect(r.toString()).toBe(full);
    expect(String(r)).toBe(full);
    expect(r.familiarName()).toBe(familiar);
  });

  it.each([
    ['', 'empty name'],
    [':tag', 'empty name'],
    ['Busybox', 'lowercase'],
    ['docker.io/User/app', 'lowercase'],
    ['busybox:', 'bad tag'],
    ['busybox:-x', 'bad tag'],
    ['busybox:' + 'x'.repeat(129), 'bad tag'],
    ['busybox@sha256:abc', 'bad digest'],
    ['busybox@sha256:' + 'A'.repeat(64), '64 lowercase hex'],
    ['a..b', 'bad repository'],
    ['a/', 'bad repository'],
    ['-a', 'bad repository'],
    ['host:port:x/a', 'bad registry'],
    ['a'.repeat(64), 'image ID'],
    ['x.io/' + 'a'.repeat(260), 'longer than'],
  ])('rejects %j', (input, why) => {
    let err: unknown;
    try { parseReference(input); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(TsbuildError);
    expect((err as TsbuildError).code).toBe('E_BAD_REFERENCE');
    expect((err as TsbuildError).message).toContain(why);
  });

  it('manifestRef prefers the digest', () => {
    expect(parseReference(`a:1@${D}`).manifestRef()).toBe(D);
    expect(parseReference('a:1').manifestRef()).toBe('1');
  });

  it('retags', () => {
    expect(withTag(parseReference(`a:1@${D}`), '2').toString()).toBe('docker.io/library/a:2');
  });
});

describe('registry hosts', () => {
  it('maps docker.io to its API host', () => {
    expect(apiHost('docker.io')).toBe('registry-1.docker.io');
    expect(apiHost('localhost:5000')).toBe('localhost:5000');
  });
  it('folds the Docker Hub spellings', () => {
    expect(normaliseRegistry('https://index.docker.io/v1/')).toBe('docker.io');
    expect(normaliseRegistry('registry-1.docker.io')).toBe('docker.io');
    expect(normaliseRegistry('https://quay.io')).toBe('quay.io');
    expect(normaliseRegistry('localhost:5000')).toBe('localhost:5000');
  });
});
