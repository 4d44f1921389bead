// Registry credentials: where they live, how to read them, how login saves them.
//
// Owns: the auth-file lookup order shared with podman/skopeo and docker
// (`$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`,
// `~/.config/containers/auth.json`, `~/.docker/config.json`), the key
// spellings those files use for a registry (`host`, `https://host/v1/`,
// repository-scoped `host/ns/repo`) and the atomic, 0600 write that
// `tsbuild login` does. Credential helpers (credsStore) are not run: the
// product never shells out.
import { mkdir, readFile, rename, writeFile, chmod } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { TsbuildError } from '../errors.js';
import { normaliseRegistry } from '../reference/index.js';

export interface Credentials {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token (docker's `identitytoken`), traded at the token realm. */
  identityToken?: string;
  /** Which file they came from, for debug logs. */
  source?: string;
}

export interface CredentialEnv {
  env?: NodeJS.ProcessEnv;
  home?: string;
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}

interface AuthFile {
  auths?: Record<string, AuthEntry>;
  [k: string]: unknown;
}

function homeOf(opts: CredentialEnv): string {
  return opts.home ?? opts.env?.HOME ?? process.env.HOME ?? homedir();
}

/** The files read, most specific first. The first one with an entry for the registry wins. */
export function authFileReadOrder(opts: CredentialEnv = {}): string[] {
  const env = opts.env ?? process.env;
  const home = homeOf(opts);
  const files: string[] = [];
  if (env.REGISTRY_AUTH_FILE) files.push(env.REGISTRY_AUTH_FILE);
  if (env.XDG_RUNTIME_DIR) files.push(join(env.XDG_RUNTIME_DIR, 'containers/auth.json'));
  files.push(join(home, '.config/containers/auth.json'));
  files.push(join(home, '.docker/config.json'));
  return files;
}

/** Where login writes, as podman does: REGISTRY_AUTH_FILE, else the runtime dir, else ~/.config. */
export function authFileWritePath(opts: CredentialEnv = {}): string {
  const env = opts.env ?? process.env;
  if (env.REGISTRY_AUTH_FILE) return env.REGISTRY_AUTH_FILE;
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'containers/auth.json');
  return join(homeOf(opts), '.config/containers/auth.json');
}

async function readAuthFile(path: string): Promise<AuthFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw new TsbuildError('E_AUTH_FILE', `cannot read credentials: ${(err as Error).message}`, { location: { file: path } });
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object');
    return parsed as AuthFile;
  } catch (err) {
    throw new TsbuildError('E_AUTH_FILE', `invalid credentials file: ${(err as Error).message}`, { location: { file: path } });
  }
}

/**
 * The keys that may hold credentials for `registry` (and optionally a
 * repository in it), most specific first: podman allows `host/ns/repo` keys,
 * docker writes `https://index.docker.io/v1/` for Docker Hub.
 */
function candidateKeys(registry: string, repository: string | undefined): string[] {
  const keys: string[] = [];
  if (repository) {
    const parts = repository.split('/');
    for (let i = parts.length; i > 0; i--) keys.push(`${registry}/${parts.slice(0, i).join('/')}`);
  }
  keys.push(registry);
  return keys;
}

/** Normalise a key from an auth file to compare it with candidateKeys. */
function normaliseKey(key: string): string {
  const stripped = key.replace(/^https?:\/\//, '').replace(/\/+$/, '').replace(/\/v[12]$/, '');
  const slash = stripped.indexOf('/');
  const host = slash < 0 ? stripped : stripped.slice(0, slash);
  return normaliseRegistry(host) + (slash < 0 ? '' : stripped.slice(slash));
}

function decodeEntry(entry: AuthEntry, source: string): Credentials | undefined {
  if (entry.identitytoken) {
    return { identityToken: entry.identitytoken, username: decodeBasic(entry.auth, source)?.username, source };
  }
  if (entry.auth) return decodeBasic(entry.auth, source);
  if (entry.username !== undefined && entry.password !== undefined) return { username: entry.username, password: entry.password, source };
  return undefined;
}

function decodeBasic(auth: string | undefined, source: string): Credentials | undefined {
  if (!auth) return undefined;
  const plain = Buffer.from(auth, 'base64').toString('utf8');
  const colon = plain.indexOf(':');
  if (colon < 0) throw new TsbuildError('E_AUTH_FILE', 'invalid "auth" entry: expected base64 of user:password', { location: { file: source } });
  // Only the first ':' separates: passwords may contain colons.
  return { username: plain.slice(0, colon), password: plain.slice(colon + 1), source };
}

/** Look up credentials for a registry (docker.io spellings folded), or undefined for anonymous access. */
export async function findCredentials(registry: string, repository?: string, opts: CredentialEnv = {}): Promise<Credentials | undefined> {
  const wanted = candidateKeys(normaliseRegistry(registry), repository);
  for (const path of authFileReadOrder(opts)) {
    const file = await readAuthFile(path);
    const auths = file?.auths;
    if (!auths || typeof auths !== 'object') continue;
    const byKey = new Map<string, AuthEntry>();
    for (const [k, v] of Object.entries(auths)) {
      const nk = normaliseKey(k);
      if (!byKey.has(nk) && v && typeof v === 'object') byKey.set(nk, v);
    }
    for (const key of wanted) {
      const entry = byKey.get(key);
      const creds = entry && decodeEntry(entry, path);
      if (creds) return creds;
    }
  }
  return undefined;
}

/**
 * Save `username:password` for `registry` in the login file, keeping every
 * other entry and key. Written to a temp file and renamed, mode 0600, so a
 * crash can't leave a half-written file that loses other registries' logins.
 */
export async function saveCredentials(registry: string, username: string, password: string, opts: CredentialEnv = {}): Promise<string> {
  const path = authFileWritePath(opts);
  const file = (await readAuthFile(path)) ?? {};
  const auths: Record<string, AuthEntry> = typeof file.auths === 'object' && file.auths ? file.auths : {};
  const key = normaliseRegistry(registry);
  // Drop other spellings of the same registry so the new login can't be shadowed.
  for (const k of Object.keys(auths)) if (normaliseKey(k) === key) delete auths[k];
  auths[key] = { auth: Buffer.from(`${username}:${password}`, 'utf8').toString('base64') };
  file.auths = auths;
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, JSON.stringify(file, null, '\t') + '\n', { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
  return path;
}
