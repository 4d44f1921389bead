// Authorization headers for registry requests: basic, and bearer tokens.
//
// Owns: turning a challenge (from WWW-Authenticate) plus credentials into an
// Authorization header for one scope, and caching bearer tokens per scope
// until they expire. The token exchange follows the distribution token spec:
// GET realm?service=…&scope=… (basic-authenticated when we have a
// password), or an OAuth2 POST with grant_type=refresh_token when the auth
// file holds an identity token.
import fetch from 'node-fetch';
import type { Agent as HttpAgent } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import { TsbuildError } from '../errors.js';
import type { Credentials } from './credentials.js';
import type { Challenge } from './www-authenticate.js';

/** Tokens that don't say how long they live are good for 60s (the spec's default). */
const DEFAULT_TOKEN_LIFETIME_S = 60;
/** Renew a little early so a token doesn't expire between check and use. */
const EXPIRY_MARGIN_MS = 5_000;

export interface TokenFetchOptions {
  /** Agent for the realm URL (the realm may be another host than the registry). */
  agent?: (url: URL) => HttpAgent | HttpsAgent | undefined;
  /** Registry name, for error messages. */
  registry: string;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

export function basicHeader(creds: Credentials): string {
  return `Basic ${Buffer.from(`${creds.username ?? ''}:${creds.password ?? ''}`, 'utf8').toString('base64')}`;
}

/** `repository:NAME:pull,push`: the scope string the token server wants. */
export function repositoryScope(repository: string, actions: readonly string[]): string {
  return `repository:${repository}:${actions.join(',')}`;
}

/** One registry's token cache; scopes are sorted so equal sets share a token. */
export class BearerTokens {
  private readonly cache = new Map<string, CachedToken>();
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(private readonly opts: TokenFetchOptions) {}

  /** A token for these scopes, from the cache or the realm. Concurrent callers share one fetch. */
  async get(challenge: Challenge, scopes: readonly string[], creds: Credentials | undefined): Promise<string> {
    const key = [...new Set(scopes)].sort().join(' ');
    const hit = this.cache.get(key);
    if (hit && hit.expiresAt > Date.now()) return hit.token;
    let p = this.inflight.get(key);
    if (!p) {
      p = this.fetchToken(challenge, [...new Set(scopes)].sort(), creds).then((t) => {
        this.cache.set(key, t);
        return t.token;
      }).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }

  /** Forget the token for these scopes (after the registry refused it). */
  invalidate(scopes: readonly string[]): void {
    this.cache.delete([...new Set(scopes)].sort().join(' '));
  }

  private async fetchToken(challenge: Challenge, scopes: string[], creds: Credentials | undefined): Promise<CachedToken> {
    const realm = challenge.params.realm;
    if (!realm) throw new TsbuildError('E_AUTH_CHALLENGE', `registry ${this.opts.registry} sent a bearer challenge without a realm`);
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new TsbuildError('E_AUTH_CHALLENGE', `registry ${this.opts.registry} sent an invalid token realm "${realm}"`);
    }
    const service = challenge.params.service;
    const agent = this.opts.agent?.(url);
    const base = { agent, redirect: 'follow' as const, compress: true };
    let res;
    try {
      if (creds?.identityToken) {
        // OAuth2 refresh-token grant (docker's identitytoken); the scope list is space-separated.
        const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.identityToken, client_id: 'tsbuild' });
        if (service) form.set('service', service);
        if (scopes.length) form.set('scope', scopes.join(' '));
        res = await fetch(url.toString(), { ...base, method: 'POST', body: form, headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
      } else {
        if (service) url.searchParams.set('service', service);
        for (const s of scopes) url.searchParams.append('scope', s);
        const headers: Record<string, string> = {};
        if (creds?.username !== undefined && creds.password !== undefined) {
          url.searchParams.set('account', creds.username);
          headers.Authorization = basicHeader(creds);
        }
        res = await fetch(url.toString(), { ...base, headers });
      }
    } catch (err) {
      throw new TsbuildError('E_REGISTRY_UNREACHABLE', `cannot reach token server ${url.host} for ${this.opts.registry}: ${(err as Error).message}`, { cause: err });
    }
    if (res.status === 401 || res.status === 403) {
      await res.arrayBuffer().catch(() => undefined);
      throw new TsbuildError('E_UNAUTHORIZED', `unauthorized: the token server for ${this.opts.registry} refused ${creds ? 'the credentials' : 'anonymous access'} (status ${res.status})`);
    }
    if (!res.ok) {
      await res.arrayBuffer().catch(() => undefined);
      throw new TsbuildError('E_REGISTRY', `token server for ${this.opts.registry} answered status ${res.status}`);
    }
    let body: { token?: string; access_token?: string; expires_in?: number; issued_at?: string };
    try {
      body = (await res.json()) as typeof body;
    } catch {
      throw new TsbuildError('E_REGISTRY', `token server for ${this.opts.registry} sent a response that is not JSON`);
    }
    const token = body.token ?? body.access_token;
    if (!token) throw new TsbuildError('E_REGISTRY', `token server for ${this.opts.registry} sent no token`);
    const lifetime = (typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : DEFAULT_TOKEN_LIFETIME_S) * 1000;
    const issued = body.issued_at ? Date.parse(body.issued_at) : NaN;
    // Trust our clock over the server's issued_at when they disagree wildly.
    const start = Number.isFinite(issued) && Math.abs(issued - Date.now()) < 60_000 ? issued : Date.now();
    return { token, expiresAt: start + lifetime - EXPIRY_MARGIN_MS };
  }
}
