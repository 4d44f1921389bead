// A token server for the distribution registry's `auth: token` mode, so the
// bearer flow runs against the real registry. It checks one user's basic
// credentials (GET) or refresh token (OAuth2 POST), then issues RS256 JWTs
// whose `x5c` header carries the signing certificate; the registry trusts
// them because that certificate is its `rootcertbundle`.
import { execFileSync } from 'node:child_process';
import { createPrivateKey, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export interface TokenServer {
  realm: string;
  service: string;
  issuer: string;
  certPath: string;
  /** Every token request seen: method, account, scopes. */
  requests: Array<{ method: string; account?: string; scopes: string[]; ok: boolean }>;
  /** The refresh token that identifies the user (for identitytoken auth files). */
  refreshToken: string;
  stop(): Promise<void>;
}

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

/** Make a self-signed RSA key and certificate in `dir` with openssl. */
export function makeSigningCert(dir: string): { keyPath: string; certPath: string } {
  const keyPath = join(dir, 'token.key');
  const certPath = join(dir, 'token.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=tsbuild-test-token-issuer'], { stdio: 'ignore' });
  return { keyPath, certPath };
}

function jwt(key: KeyObject, certDer: Buffer, claims: Record<string, unknown>): string {
  const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', x5c: [certDer.toString('base64')] }));
  const payload = b64url(JSON.stringify(claims));
  const sig = sign('sha256', Buffer.from(`${header}.${payload}`), key);
  return `${header}.${payload}.${b64url(sig)}`;
}

/** `repository:a/b:pull,push` → access entry; anything else is ignored. */
function parseScope(scope: string): { type: string; name: string; actions: string[] } | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first < 0 || last <= first) return undefined;
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions: scope.slice(last + 1).split(',').filter(Boolean) };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let s = '';
    req.on('data', (c: Buffer) => { s += c.toString(); });
    req.on('end', () => resolve(s));
  });
}

export async function startTokenServer(dir: string, user: { username: string; password: string }): Promise<TokenServer> {
  const { keyPath, certPath } = makeSigningCert(dir);
  const key = createPrivateKey(readFileSync(keyPath));
  const certDer = Buffer.from(new X509Certificate(readFileSync(certPath)).raw);
  const service = 'tsbuild-test-registry';
  const issuer = 'tsbuild-test-issuer';
  const refreshToken = `refresh-${randomBytes(8).toString('hex')}`;
  const requests: TokenServer['requests'] = [];

  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname !== '/token') { res.writeHead(404); res.end(); return; }
      let account: string | undefined;
      let scopes: string[];
      let authed: boolean;
      if (req.method === 'POST') {
        const form = new URLSearchParams(await readBody(req));
        scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
        authed = form.get('grant_type') === 'refresh_token' && form.get('refresh_token') === refreshToken;
        account = authed ? user.username : undefined;
      } else {
        scopes = url.searchParams.getAll('scope');
        const auth = req.headers.authorization;
        if (auth?.startsWith('Basic ')) {
          const [u, ...p] = Buffer.from(auth.slice(6), 'base64').toString().split(':');
          authed = u === user.username && p.join(':') === user.password;
          account = u;
          if (!authed) {
            requests.push({ method: 'GET', account, scopes, ok: false });
            res.writeHead(401, { 'Content-Type': 'application/json' });
            res.end('{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}');
            return;
          }
        } else {
          authed = false;
        }
      }
      requests.push({ method: req.method ?? 'GET', account, scopes, ok: authed });
      if (req.method === 'POST' && !authed) { res.writeHead(401); res.end(); return; }
      const now = Math.floor(Date.now() / 1000);
      // Anonymous callers get a valid token with no access, as Docker Hub does for private repos.
      const access = authed ? scopes.map(parseScope).filter((s): s is NonNullable<typeof s> => s !== undefined) : [];
      const token = jwt(key, certDer, { iss: issuer, sub: account ?? '', aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date(now * 1000).toISOString(), ...(req.method === 'POST' ? { refresh_token: refreshToken } : {}) }));
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    certPath,
    requests,
    refreshToken,
    stop: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
