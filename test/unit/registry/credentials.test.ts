// Credential file lookup order and key spellings, against temp files.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { authFileReadOrder, authFileWritePath, findCredentials, saveCredentials } from '../../../src/registry/credentials.js';

let dir: string;
const b64 = (s: string): string => Buffer.from(s).toString('base64');
function writeAuth(path: string, auths: Record<string, unknown>): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify({ auths }));
}

beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'tsbuild-creds-')); });
afterEach(() => { rmSync(dir, { recursive: true, force: true }); });

describe('credential lookup', () => {
  it('orders the files as podman and docker do', () => {
    expect(authFileReadOrder({ env: { REGISTRY_AUTH_FILE: '/a.json', XDG_RUNTIME_DIR: '/run/user/1' }, home: '/h' })).toEqual([
      '/a.json', '/run/user/1/containers/auth.json', '/h/.config/containers/auth.json', '/h/.docker/config.json',
    ]);
    expect(authFileReadOrder({ env: {}, home: '/h' })).toEqual(['/h/.config/containers/auth.json', '/h/.docker/config.json']);
  });

  it('writes where podman writes', () => {
    expect(authFileWritePath({ env: { REGISTRY_AUTH_FILE: '/a.json', XDG_RUNTIME_DIR: '/r' }, home: '/h' })).toBe('/a.json');
    expect(authFileWritePath({ env: { XDG_RUNTIME_DIR: '/r' }, home: '/h' })).toBe('/r/containers/auth.json');
    expect(authFileWritePath({ env: {}, home: '/h' })).toBe('/h/.config/containers/auth.json');
  });

  it('takes the first file that has the registry', async () => {
    const env = { REGISTRY_AUTH_FILE: join(dir, 'explicit.json'), XDG_RUNTIME_DIR: join(dir, 'run') };
    const home = join(dir, 'home');
    writeAuth(join(home, '.docker/config.json'), { 'reg:5000': { auth: b64('docker:pw') }, other: { auth: b64('o:p') } });
    writeAuth(join(dir, 'run/containers/auth.json'), { 'reg:5000': { auth: b64('xdg:pw') } });
    expect((await findCredentials('reg:5000', undefined, { env, home }))?.username).toBe('xdg');
    writeAuth(env.REGISTRY_AUTH_FILE, { 'reg:5000': { auth: b64('explicit:pw') } });
    expect((await findCredentials('reg:5000', undefined, { env, home }))?.username).toBe('explicit');
    // A registry only in a later file is still found there.
    expect(await findCredentials('other', undefined, { env, home })).toMatchObject({ username: 'o', password: 'p' });
    expect(await findCredentials('nowhere', undefined, { env, home })).toBeUndefined();
  });

  it('reads ~/.config/containers/auth.json when XDG_RUNTIME_DIR is unset', async () => {
    const home = join(dir, 'home');
    writeAuth(join(home, '.config/containers/auth.json'), { 'reg': { auth: b64('cfg:pw') } });
    writeAuth(join(home, '.docker/config.json'), { 'reg': { auth: b64('docker:pw') } });
    expect((await findCredentials('reg', undefined, { env: {}, home }))?.username).toBe('cfg');
  });

  it('understands docker key spellings and passwords with colons', async () => {
    const home = join(dir, 'home');
    writeAuth(join(home, '.docker/config.json'), {
      'https://index.docker.io/v1/': { auth: b64('hub:p:w:d') },
      'https://quay.io': { auth: b64('q:1') },
      'http://plain:5000/': { username: 'u', password: 'p' },
    });
    expect(await findCredentials('docker.io', 'library/busybox', { env: {}, home })).toMatchObject({ username: 'hub', password: 'p:w:d' });
    expect((await findCredentials('quay.io', undefined, { env: {}, home }))?.username).toBe('q');
    expect((await findCredentials('plain:5000', undefined, { env: {}, home }))?.username).toBe('u');
  });

  it('prefers repository-scoped entries and reads identity tokens', async () => {
    const home = join(dir, 'home');
    writeAuth(join(home, '.docker/config.json'), {
      'reg/team/app': { auth: b64('scoped:1') },
      reg: { auth: b64('wide:1') },
      tok: { auth: b64('<token>:'), identitytoken: 'refresh-me' },
    });
    expect((await findCredentials('reg', 'team/app', { env: {}, home }))?.username).toBe('scoped');
    expect((await findCredentials('reg', 'team/other', { env: {}, home }))?.username).toBe('wide');
    expect(await findCredentials('tok', undefined, { env: {}, home })).toMatchObject({ identityToken: 'refresh-me' });
  });

  it('reports a broken file with its path', async () => {
    const env = { REGISTRY_AUTH_FILE: join(dir, 'bad.json') };
    writeFileSync(env.REGISTRY_AUTH_FILE, '{not json');
    await expect(findCredentials('reg', undefined, { env, home: dir })).rejects.toMatchObject({ code: 'E_AUTH_FILE', location: { file: env.REGISTRY_AUTH_FILE } });
  });

  it('saves atomically, 0600, keeping other entries', async () => {
    const env = { REGISTRY_AUTH_FILE: join(dir, 'sub/auth.json') };
    writeAuth(env.REGISTRY_AUTH_FILE, { keep: { auth: b64('k:k') }, 'https://reg:5000/v1/': { auth: b64('old:old') } });
    const path = await saveCredentials('reg:5000', 'new', 'pw', { env, home: dir });
    expect(path).toBe(env.REGISTRY_AUTH_FILE);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const saved = JSON.parse(readFileSync(path, 'utf8')) as { auths: Record<string, { auth: string }> };
    expect(Object.keys(saved.auths).sort()).toEqual(['keep', 'reg:5000']);
    expect(await findCredentials('reg:5000', undefined, { env, home: dir })).toMatchObject({ username: 'new', password: 'pw' });
  });
});
