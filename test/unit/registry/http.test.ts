// The registry HTTP client against small local node servers: retries and
// backoff, connection resets, Retry-After, status mapping, basic and bearer auth.
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RegistryClient, parseRetryAfter } from '../../../src/registry/http.js';

type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;
const servers: Server[] = [];

async function serve(handler: Handler): Promise<{ host: string; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    handler(req, res, hits.length);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { host: `127.0.0.1:${(server.address() as AddressInfo).port}`, hits };
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => { s.closeAllConnections(); s.close(r); })));
});

const fast = { baseDelayMs: 1, credentials: null } as const;
const ok = (res: ServerResponse, body = '{}'): void => { res.writeHead(200, { 'Content-Type': 'application/json' }); res.end(body); };

describe('RegistryClient retries', () => {
  it('retries 503 with backoff, then succeeds', async () => {
    let fails = 2;
    const { host, hits } = await serve((req, res) => {
      if (req.url === '/v2/') return ok(res);
      if (fails-- > 0) { res.writeHead(503); res.end(); return; }
      ok(res, '{"x":1}');
    });
    const c = new RegistryClient(host, fast);
    const res = await c.request({ path: '/v2/a/manifests/1' });
    expect(await res.json()).toEqual({ x: 1 });
    expect(hits.filter((h) => h.includes('manifests'))).toHaveLength(3);
    c.close();
  });

  it('waits longer each time (exponential backoff)', async () => {
    const times: number[] = [];
    const { host } = await serve((req, res) => {
      if (req.url === '/v2/') return ok(res);
      times.push(Date.now());
      res.writeHead(502); res.end();
    });
    const c = new RegistryClient(host, { ...fast, baseDelayMs: 40, retries: 3 });
    await expect(c.request({ path: '/v2/a/blobs/x', what: 'blob x' })).rejects.toMatchObject({ code: 'E_REGISTRY', message: expect.stringContaining('status 502') });
    expect(times).toHaveLength(4);
    const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
    expect(gaps[0]).toBeGreaterThanOrEqual(35);
    expect(gaps[1]).toBeGreaterThanOrEqual(75);
    expect(gaps[2]).toBeGreaterThanOrEqual(155);
    c.close();
  });

  it('retries connection resets', async () => {
    let resets = 2;
    const { host } = await serve((req, res) => {
      if (req.url === '/v2/') return ok(res);
      if (resets-- > 0) { req.socket.destroy(); return; }
      ok(res, '"fine"');
    });
    const c = new RegistryClient(host, fast);
    expect(await (await c.request({ path: '/v2/a/tags/list' })).json()).toBe('fine');
    c.close();
  });

  it('gives up on persistent resets with E_REGISTRY_UNREACHABLE', async () => {
    const { host } = await serve((req, res) => { if (req.url === '/v2/') return ok(res); req.socket.destroy(); });
    const c = new RegistryClient(host, { ...fast, retries: 2 });
    await expect(c.request({ path: '/v2/a/tags/list' })).rejects.toMatchObject({ code: 'E_REGISTRY_UNREACHABLE' });
    c.close();
  });

  it('honours Retry-After on 429, and refuses to wait too long', async () => {
    let first = true;
    const { host } = await serve((req, res) => {
      if (req.url === '/v2/') return ok(res);
      if (req.url === '/v2/slow/x') { res.writeHead(429, { 'Retry-After': '3600' }); res.end(); return; }
      if (first) { first = false; res.writeHead(429, { 'Retry-After': '1' }); res.end(); return; }
      ok(res);
    });
    const c = new RegistryClient(host, fast);
    const t0 = Date.now();
    await c.request({ path: '/v2/a/x' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    await expect(c.request({ path: '/v2/slow/x' })).rejects.toMatchObject({ code: 'E_TOO_MANY_REQUESTS', message: expect.stringContaining('retry after 3600s') });
    c.close();
  });

  it('parses Retry-After dates and seconds', () => {
    expect(parseRetryAfter('5')).toBe(5000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});

describe('RegistryClient status mapping', () => {
  it('maps 404, 403 and 401 to typed errors and passes expected statuses through', async () => {
    const { host } = await serve((req, res) => {
      if (req.url === '/v2/') return ok(res);
      const status = Number(req.url?.split('/').pop());
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end('{"errors":[{"code":"WHATEVER"}]}');
    });
    const c = new RegistryClient(host, fast);
    await expect(c.request({ path: '/v2/a/manifests/404', what: `manifest for ${host}/a:1` })).rejects.toMatchObject({ code: 'E_IMAGE_NOT_FOUND', message: `manifest for ${host}/a:1: not found` });
    await expect(c.request({ path: '/v2/a/manifests/403' })).rejects.toMatchObject({ code: 'E_DENIED' });
    await expect(c.request({ path: '/v2/a/manifests/401' })).rejects.toMatchObject({ code: 'E_UNAUTHORIZED' });
    expect((await c.request({ method: 'HEAD', path: '/v2/a/blobs/404', expect: [200, 404] })).status).toBe(404);
    c.close();
  });

  it('reports a registry that is not there', async () => {
    const { host } = await serve((_req, res) => ok(res));
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
    const c = new RegistryClient(host, fast);
    await expect(c.request({ path: '/v2/a/manifests/1' })).rejects.toMatchObject({ code: 'E_REGISTRY_UNREACHABLE', message: expect.stringContaining(`cannot reach registry ${host}`) });
    c.close();
  });
});

describe('RegistryClient auth', () => {
  const basic = (u: string, p: string): string => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

  it('sends basic credentials after a basic challenge', async () => {
    const { host } = await serve((req, res) => {
      if (req.headers.authorization !== basic('alice', 's3cret')) {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="reg"' }); res.end(); return;
      }
      ok(res);
    });
    await expect(new RegistryClient(host, fast).request({ path: '/v2/a/tags/list' })).rejects.toMatchObject({ code: 'E_UNAUTHORIZED', message: expect.stringContaining('tsbuild login') });
    const c = new RegistryClient(host, { ...fast, credentials: { username: 'alice', password: 's3cret' } });
    expect((await c.request({ path: '/v2/a/tags/list' })).status).toBe(200);
    const bad = new RegistryClient(host, { ...fast, credentials: { username: 'alice', password: 'wrong' } });
    await expect(bad.request({ path: '/v2/a/tags/list' })).rejects.toMatchObject({ code: 'E_UNAUTHORIZED' });
  });

  it('fetches, scopes and caches bearer tokens; renews after a 401', async () => {
    let issued = 0;
    let revoked = new Set<string>();
    const { host, hits } = await serve((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/token') {
        if (req.method === 'POST') {
          let body = '';
          req.on('data', (c: Buffer) => { body += c; });
          req.on('end', () => {
            const form = new URLSearchParams(body);
            expect(form.get('grant_type')).toBe('refresh_token');
            expect(form.get('refresh_token')).toBe('idtok');
            ok(res, JSON.stringify({ access_token: `T${++issued}:${form.get('scope')}` }));
          });
          return;
        }
        if (req.headers.authorization && req.headers.authorization !== basic('bob', 'pw')) { res.writeHead(401); res.end(); return; }
        expect(url.searchParams.get('service')).toBe('test-registry');
        ok(res, JSON.stringify({ token: `T${++issued}:${url.searchParams.getAll('scope').join(' ')}`, expires_in: 300 }));
        return;
      }
      const auth = req.headers.authorization ?? '';
      const challenge = `Bearer realm="http://${req.headers.host}/token",service="test-registry",scope="repository:ns/app:pull,push"`;
      if (!auth.startsWith('Bearer ') || revoked.has(auth)) { res.writeHead(401, { 'WWW-Authenticate': challenge }); res.end(); return; }
      ok(res, JSON.stringify(auth));
    });
    const c = new RegistryClient(host, { ...fast, credentials: { username: 'bob', password: 'pw' } });
    const a = await (await c.request({ path: '/v2/ns/app/manifests/1', repository: 'ns/app', actions: ['pull', 'push'] })).json();
    expect(a).toBe('Bearer T1:repository:ns/app:pull,push');
    const b = await (await c.request({ path: '/v2/ns/app/blobs/x', repository: 'ns/app', actions: ['pull', 'push'] })).json();
    expect(b).toBe(a); // cached
    const m = await (await c.request({ path: '/v2/ns/app/blobs/uploads/', repository: 'ns/app', actions: ['pull', 'push'], extraScopes: ['repository:other:pull'] })).json();
    expect(m).toBe('Bearer T2:repository:ns/app:pull,push repository:other:pull');
    revoked = new Set([a as string]);
    const renewed = await (await c.request({ path: '/v2/ns/app/manifests/1', repository: 'ns/app', actions: ['pull', 'push'] })).json();
    expect(renewed).toBe('Bearer T3:repository:ns/app:pull,push');
    expect(hits.filter((h) => h.startsWith('GET /token'))).toHaveLength(3);

    const wrong = new RegistryClient(host, { ...fast, credentials: { username: 'bob', password: 'nope' } });
    await expect(wrong.request({ path: '/v2/ns/app/manifests/1', repository: 'ns/app' })).rejects.toMatchObject({ code: 'E_UNAUTHORIZED', message: expect.stringContaining('refused the credentials') });

    const oauth = new RegistryClient(host, { ...fast, credentials: { identityToken: 'idtok' } });
    expect(await (await oauth.request({ path: '/v2/ns/app/manifests/1', repository: 'ns/app' })).json()).toBe('Bearer T4:repository:ns/app:pull');
    c.close(); wrong.close(); oauth.close();
  });
});
