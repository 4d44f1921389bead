// Credentials against a docker-registry behind htpasswd basic auth: pull and
// push with credentials from each auth file ($REGISTRY_AUTH_FILE,
// $XDG_RUNTIME_DIR/containers/auth.json, ~/.config/containers/auth.json,
// ~/.docker/config.json), their order, and `tsbuild login` writing an
// auth.json that tsbuild and skopeo (the oracle) both accept.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxRootfs, expectOneLineError, tempRoot } from '../fixtures.js';
import { startRegistry, type RegistryServer } from '../registry-server.js';
import { credentialEnv, runCli } from './cli.js';
import { makeLayout, skopeoDigest, skopeoPush, type BuiltImage } from './oci-layout.js';

const execFileAsync = promisify(execFile);
const USER = 'tester';
const PASS = 'pa:ss-w0rd'; // a colon: only the first one separates user from password
const CREDS = `${USER}:${PASS}`;
let reg: RegistryServer;
let work: string;
let img: BuiltImage;

function writeAuth(path: string, key: string, user = USER, pass = PASS): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify({ auths: { [key]: { auth: Buffer.from(`${user}:${pass}`).toString('base64') } } }));
}

beforeAll(async () => {
  work = mkdtempSync('/tmp/tsbuild-authtest-');
  reg = await startRegistry({ htpasswd: { username: USER, password: PASS } });
  img = await makeLayout(join(work, 'bb'), 't', { layers: [{ dir: busyboxRootfs }] });
  await skopeoPush(join(work, 'bb'), 't', `${reg.host}/private/busybox:1`, { creds: CREDS });
});
afterAll(async () => {
  await reg?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('registry credentials (htpasswd)', () => {
  it('refuses anonymous pulls with a one-line hint to log in', async () => {
    const { root, cleanup } = tempRoot('auth');
    try {
      const r = await runCli(root, ['pull', `${reg.host}/private/busybox:1`], { env: credentialEnv(join(work, 'nohome')) });
      expect(r.status).not.toBe(0);
      expectOneLineError(r.stderr);
      expect(r.stderr).toContain(`tsbuild login ${reg.host}`);
    } finally {
      cleanup();
    }
  });

  const cases: Array<[string, (home: string) => NodeJS.ProcessEnv]> = [
    ['$REGISTRY_AUTH_FILE', (home) => {
      writeAuth(join(home, 'elsewhere/auth.json'), reg.host);
      return credentialEnv(home, { REGISTRY_AUTH_FILE: join(home, 'elsewhere/auth.json') });
    }],
    ['$XDG_RUNTIME_DIR/containers/auth.json', (home) => {
      writeAuth(join(home, 'run/containers/auth.json'), reg.host);
      return credentialEnv(home, { XDG_RUNTIME_DIR: join(home, 'run') });
    }],
    ['~/.config/containers/auth.json', (home) => {
      writeAuth(join(home, '.config/containers/auth.json'), reg.host);
      return credentialEnv(home);
    }],
    ['~/.docker/config.json (https:// key)', (home) => {
      writeAuth(join(home, '.docker/config.json'), `https://${reg.host}`);
      return credentialEnv(home);
    }],
  ];

  it.each(cases)('pulls and pushes with credentials from %s', async (_name, setup) => {
    const home = mkdtempSync(join(work, 'home-'));
    const env = setup(home);
    const { root, cleanup } = tempRoot('auth');
    try {
      const pulled = await runCli(root, ['pull', `${reg.host}/private/busybox:1`], { env });
      expect(pulled.status, pulled.stderr).toBe(0);
      expect(pulled.stdout.trim()).toBe(img.configDigest);
      const dest = `${reg.host}/pushed/${home.split('-').pop()?.toLowerCase()}:1`;
      const pushed = await runCli(root, ['push', `${reg.host}/private/busybox:1`, dest], { env });
      expect(pushed.status, pushed.stderr).toBe(0);
      expect(await skopeoDigest(dest, CREDS)).toBe(img.manifestDigest);
    } finally {
      cleanup();
    }
  });

  it('takes the first file that has the registry: a wrong password in $REGISTRY_AUTH_FILE wins', async () => {
    const home = mkdtempSync(join(work, 'home-'));
    writeAuth(join(home, '.docker/config.json'), reg.host);
    writeAuth(join(home, 'first.json'), reg.host, USER, 'wrong');
    const { root, cleanup } = tempRoot('auth');
    try {
      const bad = await runCli(root, ['pull', `${reg.host}/private/busybox:1`], { env: credentialEnv(home, { REGISTRY_AUTH_FILE: join(home, 'first.json') }) });
      expect(bad.status).not.toBe(0);
      expectOneLineError(bad.stderr);
      expect(bad.stderr).toContain('unauthorized');
      // A file without this registry is passed over.
      writeAuth(join(home, 'first.json'), 'other.example:5000', USER, 'wrong');
      const good = await runCli(root, ['pull', `${reg.host}/private/busybox:1`], { env: credentialEnv(home, { REGISTRY_AUTH_FILE: join(home, 'first.json') }) });
      expect(good.status, good.stderr).toBe(0);
    } finally {
      cleanup();
    }
  });

  it('login checks the password, then writes an auth.json that tsbuild and skopeo use', async () => {
    const home = mkdtempSync(join(work, 'home-'));
    const authFile = join(home, 'login/auth.json');
    const env = credentialEnv(home, { REGISTRY_AUTH_FILE: authFile });
    const { root, cleanup } = tempRoot('auth');
    try {
      const wrong = await runCli(root, ['login', reg.host, '-u', USER, '--password-stdin'], { env, input: 'nope\n' });
      expect(wrong.status).not.toBe(0);
      expectOneLineError(wrong.stderr);
      expect(wrong.stderr).toContain('invalid username or password');
      expect(existsSync(authFile)).toBe(false);

      const ok = await runCli(root, ['login', reg.host, '-u', USER, '--password-stdin'], { env, input: `${PASS}\n` });
      expect(ok.status, ok.stderr).toBe(0);
      expect(ok.stdout).toBe('Login Succeeded!\n');
      expect(statSync(authFile).mode & 0o777).toBe(0o600);
      const saved = JSON.parse(readFileSync(authFile, 'utf8')) as { auths: Record<string, { auth: string }> };
      expect(Buffer.from(saved.auths[reg.host]?.auth ?? '', 'base64').toString()).toBe(CREDS);

      const pulled = await runCli(root, ['pull', `${reg.host}/private/busybox:1`], { env });
      expect(pulled.status, pulled.stderr).toBe(0);
      const { stdout } = await execFileAsync('skopeo', ['inspect', '--raw', '--tls-verify=false', '--authfile', authFile, `docker://${reg.host}/private/busybox:1`]);
      expect(JSON.parse(stdout).config.digest).toBe(img.configDigest);
    } finally {
      cleanup();
    }
  });

  it('login without REGISTRY_AUTH_FILE writes $XDG_RUNTIME_DIR/containers/auth.json', async () => {
    const home = mkdtempSync(join(work, 'home-'));
    const env = credentialEnv(home, { XDG_RUNTIME_DIR: join(home, 'run') });
    const { root, cleanup } = tempRoot('auth');
    try {
      const ok = await runCli(root, ['login', reg.host, '-u', USER, '--password-stdin'], { env, input: PASS });
      expect(ok.status, ok.stderr).toBe(0);
      expect(existsSync(join(home, 'run/containers/auth.json'))).toBe(true);
      const pulled = await runCli(root, ['pull', `${reg.host}/private/busybox:1`], { env });
      expect(pulled.status, pulled.stderr).toBe(0);
    } finally {
      cleanup();
    }
  });
});
