// The bearer-token flow against the real registry in `auth: token` mode,
// with a token server started here (RS256 JWTs with an x5c header): pull and
// push with a password, an identity (refresh) token, and login.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxRootfs, expectOneLineError, tempRoot } from '../fixtures.js';
import { startRegistry, type RegistryServer } from '../registry-server.js';
import { credentialEnv, runCli } from './cli.js';
import { makeLayout, skopeoDigest, skopeoPush, type BuiltImage } from './oci-layout.js';
import { startTokenServer, type TokenServer } from './token-server.js';

const USER = 'alice';
const PASS = 'wonderland';
const CREDS = `${USER}:${PASS}`;
let tokens: TokenServer;
let reg: RegistryServer;
let work: string;
let img: BuiltImage;

function authFile(home: string, entry: Record<string, string>): string {
  const path = join(home, 'auth.json');
  mkdirSync(home, { recursive: true });
  writeFileSync(path, JSON.stringify({ auths: { [reg.host]: entry } }));
  return path;
}

beforeAll(async () => {
  work = mkdtempSync('/tmp/tsbuild-tokentest-');
  tokens = await startTokenServer(work, { username: USER, password: PASS });
  reg = await startRegistry({ token: { realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, rootCertBundle: tokens.certPath } });
  img = await makeLayout(join(work, 'bb'), 't', { layers: [{ dir: busyboxRootfs }, { files: { 'etc/motd': 'token\n' } }] });
  await skopeoPush(join(work, 'bb'), 't', `${reg.host}/team/busybox:1`, { creds: CREDS });
});
afterAll(async () => {
  await reg?.stop();
  await tokens?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('bearer token auth', () => {
  it('pulls and pushes with a password traded for scoped tokens', async () => {
    const home = join(work, 'pw');
    const env = credentialEnv(home, { REGISTRY_AUTH_FILE: authFile(home, { auth: Buffer.from(CREDS).toString('base64') }) });
    const { root, cleanup } = tempRoot('token');
    try {
      tokens.requests.length = 0;
      const pulled = await runCli(root, ['pull', `${reg.host}/team/busybox:1`], { env });
      expect(pulled.status, pulled.stderr).toBe(0);
      expect(pulled.stdout.trim()).toBe(img.configDigest);
      expect(tokens.requests).toContainEqual({ method: 'GET', account: USER, scopes: ['repository:team/busybox:pull'], ok: true });
      // One token serves the whole pull: it is cached per scope.
      expect(tokens.requests.filter((r) => r.scopes.length > 0)).toHaveLength(1);

      tokens.requests.length = 0;
      const pushed = await runCli(root, ['push', `${reg.host}/team/busybox:1`, `${reg.host}/team/copy:2`], { env });
      expect(pushed.status, pushed.stderr).toBe(0);
      expect(pushed.stderr).toContain('mounted from team/busybox');
      expect(tokens.requests.some((r) => r.scopes.includes('repository:team/copy:pull,push'))).toBe(true);
      expect(tokens.requests.some((r) => r.scopes.includes('repository:team/busybox:pull') && r.scopes.includes('repository:team/copy:pull,push'))).toBe(true);
      expect(await skopeoDigest(`${reg.host}/team/copy:2`, CREDS)).toBe(img.manifestDigest);

      // A fresh registry repository gets every blob uploaded under a push token.
      const fresh = await runCli(root, ['push', `${reg.host}/team/busybox:1`, `${reg.host}/elsewhere/app:3`], { env });
      expect(fresh.status, fresh.stderr).toBe(0);
      expect(await skopeoDigest(`${reg.host}/elsewhere/app:3`, CREDS)).toBe(img.manifestDigest);
    } finally {
      cleanup();
    }
  });

  it('trades an identity token (OAuth2 refresh token) from ~/.docker/config.json', async () => {
    const home = join(work, 'idtok');
    mkdirSync(join(home, '.docker'), { recursive: true });
    writeFileSync(join(home, '.docker/config.json'), JSON.stringify({ auths: { [`https://${reg.host}`]: { auth: Buffer.from('<token>:').toString('base64'), identitytoken: tokens.refreshToken } } }));
    const { root, cleanup } = tempRoot('token');
    try {
      tokens.requests.length = 0;
      const pulled = await runCli(root, ['pull', `${reg.host}/team/busybox:1`], { env: credentialEnv(home) });
      expect(pulled.status, pulled.stderr).toBe(0);
      expect(tokens.requests).toContainEqual({ method: 'POST', account: USER, scopes: ['repository:team/busybox:pull'], ok: true });
    } finally {
      cleanup();
    }
  });

  it('refuses anonymous and wrong-password access with one line', async () => {
    const { root, cleanup } = tempRoot('token');
    try {
      const anon = await runCli(root, ['pull', `${reg.host}/team/busybox:1`], { env: credentialEnv(join(work, 'anon')) });
      expect(anon.status).not.toBe(0);
      expectOneLineError(anon.stderr);
      expect(anon.stderr).toContain('unauthorized');
      const home = join(work, 'wrong');
      const wrong = await runCli(root, ['pull', `${reg.host}/team/busybox:1`], { env: credentialEnv(home, { REGISTRY_AUTH_FILE: authFile(home, { auth: Buffer.from(`${USER}:nope`).toString('base64') }) }) });
      expect(wrong.status).not.toBe(0);
      expectOneLineError(wrong.stderr);
      expect(wrong.stderr).toContain('refused the credentials');
    } finally {
      cleanup();
    }
  });

  it('login through the token server writes a usable auth.json', async () => {
    const home = join(work, 'login');
    const env = credentialEnv(home, { REGISTRY_AUTH_FILE: join(home, 'auth.json') });
    const { root, cleanup } = tempRoot('token');
    try {
      const bad = await runCli(root, ['login', reg.host, '-u', USER, '--password-stdin'], { env, input: 'nope\n' });
      expect(bad.status).not.toBe(0);
      expectOneLineError(bad.stderr);
      const ok = await runCli(root, ['login', reg.host, '-u', USER, '--password-stdin'], { env, input: `${PASS}\n` });
      expect(ok.status, ok.stderr).toBe(0);
      const pulled = await runCli(root, ['pull', `${reg.host}/team/busybox:1`], { env });
      expect(pulled.status, pulled.stderr).toBe(0);
    } finally {
      cleanup();
    }
  });
});
