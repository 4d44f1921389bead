// How to reach a registry: HTTP or HTTPS, which CAs to trust.
//
// Owns: the plain-HTTP rule docker follows (loopback registries only, unless
// the user says `--tls-verify=false` or registries.conf marks the registry
// insecure), the little of registries.conf we read, and custom CA / client
// certificates from /etc/containers/certs.d/HOST[:PORT]/. Kept apart from the
// HTTP client so the security decision is in one small, testable place.
import { readdirSync, readFileSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import { Agent as HttpAgent } from 'node:http';
import { rootCertificates } from 'node:tls';
import { withUserCas } from '../tls-ca.js';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { TsbuildError } from '../errors.js';

export const REGISTRIES_CONF = '/etc/containers/registries.conf';
export const CERTS_DIR = '/etc/containers/certs.d';

export interface TransportOptions {
  /** false: allow plain HTTP and unverified TLS for this registry (`--tls-verify=false`). */
  tlsVerify?: boolean;
  registriesConf?: string;
  /** Root of per-registry certificate dirs (default /etc/containers/certs.d). */
  certsDir?: string;
  /** One directory of certificates for this registry, as podman's --cert-dir (replaces certsDir/HOST). */
  certDir?: string;
}

export interface Transport {
  /** Schemes to try in order: HTTPS first, HTTP only where allowed. */
  schemes: Array<'https' | 'http'>;
  httpsAgent: HttpsAgent;
  httpAgent: HttpAgent;
}

/** localhost, 127.0.0.0/8 and ::1 — where docker talks plain HTTP without being asked. */
export function isLoopback(registry: string): boolean {
  const host = hostOf(registry);
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return false;
}

/** The host part of `host`, `host:port`, `[v6]:port`. */
export function hostOf(registry: string): string {
  if (registry.startsWith('[')) return registry.slice(1, registry.indexOf(']'));
  const colon = registry.lastIndexOf(':');
  return colon < 0 ? registry : registry.slice(0, colon);
}

/**
 * The registries marked insecure in registries.conf. We read just the v2
 * `[[registry]] location = "…" insecure = true` tables and the v1
 * `[registries.insecure] registries = [...]` list; everything else in the
 * file is ignored rather than misread.
 */
export function parseInsecureRegistries(toml: string): string[] {
  const out: string[] = [];
  let table = '';
  let entry: { location?: string; prefix?: string; insecure?: boolean } | undefined;
  const flush = (): void => {
    if (entry?.insecure) {
      const loc = entry.location ?? entry.prefix;
      if (loc) out.push(loc);
    }
    entry = undefined;
  };
  // Join multi-line arrays so `registries = [\n "a",\n "b"\n]` is one line.
  const lines = toml.replace(/\[([^\]]*)\]/gs, (m) => (m.includes('\n') ? m.replace(/\n/g, ' ') : m)).split('\n');
  for (const raw of lines) {
    const line = stripComment(raw).trim();
    if (line === '') continue;
    if (line.startsWith('[[')) {
      flush();
      table = line.replace(/^\[\[\s*|\s*\]\]$/g, '');
      if (table === 'registry') entry = {};
      continue;
    }
    if (line.startsWith('[')) {
      flush();
      table = line.replace(/^\[\s*|\s*\]$/g, '');
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (entry && table === 'registry') {
      if (key === 'location' || key === 'prefix') entry[key] = unquote(value);
      else if (key === 'insecure') entry.insecure = value === 'true';
    } else if (table === 'registries.insecure' && key === 'registries') {
      out.push(...[...value.matchAll(/"([^"]*)"|'([^']*)'/g)].map((m) => m[1] ?? m[2] ?? ''));
    }
  }
  flush();
  return out.filter(Boolean);
}

function stripComment(line: string): string {
  // A '#' outside quotes starts a comment.
  let q: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (q) { if (c === q) q = undefined; } else if (c === '"' || c === "'") q = c; else if (c === '#') return line.slice(0, i);
  }
  return line;
}

function unquote(v: string): string {
  const m = /^"((?:[^"\\]|\\.)*)"$|^'([^']*)'$/.exec(v);
  return m ? (m[1] ?? m[2] ?? '') : v;
}

/** True if a registries.conf location (a host, or a host/path prefix) covers this registry. */
function locationCovers(location: string, registry: string): boolean {
  const loc = location.replace(/^\*\./, '');
  const host = loc.split('/')[0] ?? loc;
  if (location.startsWith('*.')) return hostOf(registry).endsWith(`.${hostOf(host)}`);
  return host === registry;
}

function readInsecure(path: string): string[] {
  try {
    return parseInsecureRegistries(readFileSync(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new TsbuildError('E_REGISTRIES_CONF', `cannot read registries.conf: ${(err as Error).message}`, { location: { file: path } });
  }
}

/**
 * CAs and client certificates for one registry, as containers/image reads
 * certs.d: `*.crt` are extra CAs (added to, not replacing, the system roots);
 * `NAME.cert` + `NAME.key` are a client certificate pair.
 */
export function loadCertsFor(registry: string, certsDir: string = CERTS_DIR): { ca?: string[]; cert?: string; key?: string } {
  return loadCertsIn(join(certsDir, registry));
}

/** The `*.crt` CAs and `*.cert`/`*.key` client pair in one directory (absent: none). */
export function loadCertsIn(dir: string): { ca?: string[]; cert?: string; key?: string } {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return {};
  }
  const extra = names.filter((n) => n.endsWith('.crt')).map((n) => readFileSync(join(dir, n), 'utf8'));
  const out: { ca?: string[]; cert?: string; key?: string } = {};
  if (extra.length > 0) out.ca = [...rootCertificates, ...extra];
  const certName = names.find((n) => n.endsWith('.cert'));
  if (certName) {
    const keyName = certName.replace(/\.cert$/, '.key');
    if (!names.includes(keyName)) {
      throw new TsbuildError('E_TLS_CONFIG', `client certificate ${certName} has no matching ${keyName}`, { location: { file: join(dir, certName) } });
    }
    out.cert = readFileSync(join(dir, certName), 'utf8');
    out.key = readFileSync(join(dir, keyName), 'utf8');
  }
  return out;
}

/** Decide the schemes and TLS settings for one registry. */
export function resolveTransport(registry: string, opts: TransportOptions = {}): Transport {
  const loopback = isLoopback(registry);
  const insecure = opts.tlsVerify === false
    || readInsecure(opts.registriesConf ?? REGISTRIES_CONF).some((loc) => locationCovers(loc, registry));
  const certs = opts.certDir ? loadCertsIn(opts.certDir) : loadCertsFor(registry, opts.certsDir ?? CERTS_DIR);
  const ca = withUserCas(certs.ca);
  const httpsAgent = new HttpsAgent({ keepAlive: true, rejectUnauthorized: !insecure, ...certs, ...(ca ? { ca } : {}) });
  const httpAgent = new HttpAgent({ keepAlive: true });
  // Loopback registries speak plain HTTP (as docker assumes); insecure ones
  // get HTTPS without verification first, then HTTP, as containers/image does.
  const schemes: Transport['schemes'] = loopback ? ['http', 'https'] : insecure ? ['https', 'http'] : ['https'];
  return { schemes, httpsAgent, httpAgent };
}
