// The HTTP client for one registry (the distribution API, /v2/…).
//
// Owns: finding the scheme (a ping to /v2/ that also learns the auth
// challenge), attaching basic or bearer authorization per repository scope,
// retrying with exponential backoff on 5xx, 429 (honouring Retry-After) and
// connection resets, and mapping HTTP status codes — never response bodies —
// to typed TsbuildErrors. Pull and push speak in paths and statuses; they
// never see a token or a socket error.
import fetch, { type Response } from 'node-fetch';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { TsbuildError } from '../errors.js';
import type { Logger } from '../log.js';
import { BearerTokens, basicHeader, repositoryScope } from './auth.js';
import { findCredentials, type CredentialEnv, type Credentials } from './credentials.js';
import { apiHost } from '../reference/index.js';
import { resolveTransport, type Transport, type TransportOptions } from './transport.js';
import { parseWwwAuthenticate, pickChallenge, type Challenge } from './www-authenticate.js';

export type { Response } from 'node-fetch';

export interface ClientOptions extends TransportOptions, CredentialEnv {
  log?: Logger;
  /** Retries after the first attempt for 5xx, 429 and connection resets. */
  retries?: number;
  /** First backoff delay; doubles each retry. */
  baseDelayMs?: number;
  /** Longest Retry-After we are willing to wait before giving up on a 429. */
  maxRetryAfterMs?: number;
  /** Use these instead of the auth files (login verifies credentials it hasn't saved yet). */
  credentials?: Credentials | null;
}

export interface RequestOptions {
  method?: string;
  /** A path under the registry (`/v2/…`) or an absolute URL (an upload Location). */
  path: string;
  /** The repository the request acts on, for the token scope. */
  repository?: string;
  actions?: readonly ('pull' | 'push')[];
  /** More scopes, e.g. `repository:FROM:pull` for a cross-repository mount. */
  extraScopes?: readonly string[];
  headers?: Record<string, string>;
  /** A factory, so the body can be sent again on retry or after a 401 (a stream only with `once`). */
  body?: Buffer | string | Readable | (() => Promise<Readable> | Readable);
  /**
   * The body is a stream that can be read only once (an upload made while
   * it is sent): no retry and no second try after a 401, the caller
   * starts over instead.
   */
  once?: boolean;
  /** Statuses handed back to the caller; others become errors. Default: any 2xx. */
  expect?: readonly number[];
  /** What a 404 means, for the E_IMAGE_NOT_FOUND/E_BLOB_NOT_FOUND message (`manifest for host/a:1`). */
  what?: string;
}

const RETRYABLE_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ERR_STREAM_PREMATURE_CLOSE']);

/** True for errors that mean "the connection broke", worth retrying or resuming. */
export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: string; errno?: string; message?: string; type?: string } | undefined;
  if (!e) return false;
  if ((e.code && RETRYABLE_CODES.has(e.code)) || (e.errno && RETRYABLE_CODES.has(e.errno))) return true;
  return typeof e.message === 'string' && /socket hang up|premature close|ECONNRESET|aborted/i.test(e.message);
}

/** Retry-After: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const t = Date.parse(value);
  return Number.isFinite(t) ? Math.max(0, t - now) : undefined;
}

export class RegistryClient {
  readonly registry: string;
  private readonly host: string;
  private readonly transport: Transport;
  private baseUrl: string | undefined;
  private challenge: Challenge | undefined;
  private pinging: Promise<void> | undefined;
  private readonly tokens: BearerTokens;
  private readonly creds = new Map<string, Promise<Credentials | undefined>>();

  constructor(registry: string, private readonly opts: ClientOptions = {}) {
    this.registry = registry;
    this.host = apiHost(registry);
    this.transport = resolveTransport(this.host === registry ? registry : this.host, opts);
    this.tokens = new BearerTokens({ registry, agent: (u) => this.agentFor(u) });
  }

  /** An absolute URL for a Location header (relative to the registry's base URL). */
  async absolute(location: string): Promise<string> {
    await this.ping();
    return new URL(location, `${this.baseUrl}/`).toString();
  }

  /** Close keep-alive sockets so the CLI can exit promptly. */
  close(): void {
    this.transport.httpAgent.destroy();
    this.transport.httpsAgent.destroy();
  }

  private agentFor(url: URL) {
    // Our CA list and insecure setting apply only to the registry host itself,
    // not to a CDN or token server it redirects to.
    if (url.host !== this.host) return undefined;
    return url.protocol === 'https:' ? this.transport.httpsAgent : this.transport.httpAgent;
  }

  /**
   * GET /v2/ over each allowed scheme until one answers like a registry
   * (200, or 401 with a challenge). Done once; every request waits for it.
   */
  ping(): Promise<void> {
    this.pinging ??= this.doPing().catch((err) => {
      this.pinging = undefined;
      throw err;
    });
    return this.pinging;
  }

  private async doPing(): Promise<void> {
    let lastErr: unknown;
    let certificateErr: unknown;
    for (const scheme of this.transport.schemes) {
      const base = `${scheme}://${this.host}`;
      try {
        const res = await this.send('GET', `${base}/v2/`, {}, undefined);
        await res.arrayBuffer().catch(() => undefined);
        if (res.status === 200 || res.status === 401) {
          this.baseUrl = base;
          const header = res.headers.get('www-authenticate');
          this.challenge = res.status === 401 && header ? pickChallenge(parseWwwAuthenticate(header)) : undefined;
          this.opts.log?.debug(`registry ${this.registry}: ${base}, auth ${this.challenge?.scheme ?? 'none'}`);
          return;
        }
        lastErr = new TsbuildError('E_REGISTRY', `${base}/v2/ answered status ${res.status}: not a registry API endpoint`);
      } catch (err) {
        // A server that showed a certificate speaks TLS: its refusal is the answer, not the
        // 400 its port gives plain HTTP next.
        if (isCertificateError(err)) certificateErr ??= err;
        // A scheme that answered (500, 404…) says more than one that could not connect after it.
        if (!(lastErr instanceof TsbuildError)) lastErr = err;
      }
    }
    if (certificateErr !== undefined) throw this.connectionFailure(certificateErr);
    if (lastErr instanceof TsbuildError) throw lastErr;
    throw this.connectionFailure(lastErr);
  }

  private connectionFailure(err: unknown): TsbuildError {
    const e = err as { code?: string; message?: string };
    const detail = e?.code ?? e?.message ?? String(err);
    const tls = /certificate|self.signed|SSL|TLS|EPROTO/i.test(`${e?.code} ${e?.message}`);
    return new TsbuildError(tls ? 'E_TLS' : 'E_REGISTRY_UNREACHABLE',
      tls ? `TLS error talking to ${this.registry}: ${e?.message ?? detail} (use --tls-verify=false or a CA in /etc/containers/certs.d/${this.registry}/)`
        : `cannot reach registry ${this.registry}${this.host === this.registry ? '' : ` (${this.host})`}: ${detail}`, { cause: err });
  }

  private credentialsFor(repository: string | undefined): Promise<Credentials | undefined> {
    if (this.opts.credentials !== undefined) return Promise.resolve(this.opts.credentials ?? undefined);
    const key = repository ?? '';
    let p = this.creds.get(key);
    if (!p) {
      p = findCredentials(this.registry, repository, this.opts);
      this.creds.set(key, p);
    }
    return p;
  }

  private scopesOf(o: RequestOptions): string[] {
    const scopes = o.repository ? [repositoryScope(o.repository, o.actions ?? ['pull'])] : [];
    return [...scopes, ...(o.extraScopes ?? [])];
  }

  private async authHeader(o: RequestOptions): Promise<string | undefined> {
    const ch = this.challenge;
    if (!ch) return undefined;
    const creds = await this.credentialsFor(o.repository);
    if (ch.scheme === 'basic') {
      if (!creds || creds.password === undefined) {
        throw new TsbuildError('E_UNAUTHORIZED', `unauthorized: ${this.registry} requires a login (tsbuild login ${this.registry})`);
      }
      return basicHeader(creds);
    }
    return `Bearer ${await this.tokens.get(ch, this.scopesOf(o), creds)}`;
  }

  /** One HTTP exchange, no retries or auth. */
  private async send(method: string, url: string, headers: Record<string, string>, body: RequestOptions['body']): Promise<Response> {
    const payload = typeof body === 'function' ? await body() : body;
    return fetch(url, {
      method,
      headers: { 'User-Agent': 'tsbuild/0.1', ...headers },
      body: payload,
      redirect: 'follow',
      compress: false,
      agent: (u: URL) => this.agentFor(u),
    });
  }

  /**
   * A request with auth and retries. Returns the response for an expected
   * status (the caller reads or discards its body); throws TsbuildError otherwise.
   */
  async request(o: RequestOptions): Promise<Response> {
    await this.ping();
    const method = o.method ?? 'GET';
    const url = /^https?:\/\//.test(o.path) ? o.path : `${this.baseUrl}${o.path}`;
    const retries = o.once ? 0 : (this.opts.retries ?? 4);
    const base = this.opts.baseDelayMs ?? 250;
    let reauthed = false;
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        const auth = await this.authHeader(o);
        res = await this.send(method, url, { ...o.headers, ...(auth ? { Authorization: auth } : {}) }, o.body);
      } catch (err) {
        if (err instanceof TsbuildError) throw err;
        if (!isConnectionError(err) || attempt >= retries) throw this.connectionFailure(err);
        const delay = base * 2 ** attempt;
        this.opts.log?.debug(`${method} ${url}: ${(err as Error).message}; retrying in ${delay}ms`);
        await sleep(delay);
        continue;
      }
      const wanted = o.expect ? o.expect.includes(res.status) : res.status >= 200 && res.status < 300;
      if (wanted) return res;

      if (res.status === 401 && !reauthed && !o.once) {
        // The token may have expired, or the registry wants another scope:
        // learn the new challenge and try once more with a fresh token.
        reauthed = true;
        const header = res.headers.get('www-authenticate');
        const ch = header ? pickChallenge(parseWwwAuthenticate(header)) : undefined;
        await res.arrayBuffer().catch(() => undefined);
        if (ch) this.challenge = ch;
        this.tokens.invalidate(this.scopesOf(o));
        if (ch || this.challenge) { attempt--; continue; }
      }
      const retryable = res.status >= 500 || res.status === 429;
      if (retryable && attempt < retries) {
        const after = res.status === 429 ? parseRetryAfter(res.headers.get('retry-after')) : undefined;
        const delay = after ?? base * 2 ** attempt;
        if (after === undefined || after <= (this.opts.maxRetryAfterMs ?? 60_000)) {
          await res.arrayBuffer().catch(() => undefined);
          this.opts.log?.debug(`${method} ${url}: status ${res.status}; retrying in ${delay}ms`);
          await sleep(delay);
          continue;
        }
      }
      throw await this.statusError(res, method, o);
    }
  }

  private async statusError(res: Response, method: string, o: RequestOptions): Promise<TsbuildError> {
    await res.arrayBuffer().catch(() => undefined);
    const what = o.what ?? `${method} ${o.path}`;
    switch (res.status) {
      case 401:
        return new TsbuildError('E_UNAUTHORIZED', `unauthorized: authentication required for ${what} (tsbuild login ${this.registry})`);
      case 403:
        return new TsbuildError('E_DENIED', `denied: access to ${what} is forbidden`);
      case 404:
        // The registry API's MANIFEST_UNKNOWN / BLOB_UNKNOWN: the same codes the store uses.
        return new TsbuildError(o.path.includes('/blobs/') ? 'E_BLOB_NOT_FOUND' : 'E_IMAGE_NOT_FOUND', `${what}: not found`);
      case 429: {
        const after = res.headers.get('retry-after');
        return new TsbuildError('E_TOO_MANY_REQUESTS', `too many requests to ${this.registry}${after ? ` (retry after ${after}s)` : ''}`);
      }
      default:
        return new TsbuildError('E_REGISTRY', `${what}: registry ${this.registry} answered status ${res.status}`);
    }
  }
}

/** A TLS handshake that failed on the server's certificate (not a plain-HTTP port answering TLS). */
function isCertificateError(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | undefined;
  return /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|certificate/i.test(`${e?.code ?? ''} ${e?.message ?? ''}`);
}
