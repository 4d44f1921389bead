// ADD <url>: downloading to a temp file while hashing, checking
// --checksum, and sharing one download between the cache-key digest and the
// copy itself (both run for one step, and a URL's content can only be known
// by fetching it: ETags lie and many servers send none).
//
// Temp files live in a per-process directory (the store's tmp/ when the
// executor passes it) that is removed at exit; a directory left by a killed
// process is removed by the next one, which can tell from the pid in its
// name that its owner is gone.
import { nodeCrypto } from '../../node-crypto.js';
import { createWriteStream, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type CopyStep, stepError } from './types.js';
import { pidAlive } from '../../pid-alive.js';
import { withUserCas } from '../../tls-ca.js';
import { createRequire } from 'node:module';
import type { Agent as HttpsAgent } from 'node:https';

export interface Download {
  path: string;
  /** sha256 of the content, `sha256:<hex>`. */
  digest: string;
  size: number;
  /** From Last-Modified (seconds), else the download time, as docker sets it. */
  mtime: number;
}

const PREFIX = 'tsbuild-add-';
const CHECKSUM_RE = /^(sha256|sha384|sha512):([a-f0-9]+)$/;
const tempDirs = new Map<string, string>();
const downloads = new WeakMap<object, Map<string, Promise<Download>>>();

function tempDirIn(root: string): string {
  const known = tempDirs.get(root);
  if (known) return known;
  try {
    for (const name of readdirSync(root)) {
      const m = new RegExp(`^${PREFIX}(\\d+)-`).exec(name);
      if (m && Number(m[1]) !== process.pid && !pidAlive(Number(m[1]))) rmSync(join(root, name), { recursive: true, force: true });
    }
  } catch {
    /* an unreadable tmp root only means nothing is cleaned */
  }
  const dir = mkdtempSync(join(root, `${PREFIX}${process.pid}-`));
  tempDirs.set(root, dir);
  if (tempDirs.size === 1) process.once('exit', () => { for (const d of tempDirs.values()) rmSync(d, { recursive: true, force: true }); });
  return dir;
}

class Hasher extends Transform {
  readonly sha256 = nodeCrypto().createHash('sha256');
  readonly extra;
  size = 0;

  constructor(extraAlgorithm: string | null) {
    super();
    this.extra = extraAlgorithm && extraAlgorithm !== 'sha256' ? nodeCrypto().createHash(extraAlgorithm) : null;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.sha256.update(chunk);
    this.extra?.update(chunk);
    this.size += chunk.length;
    cb(null, chunk);
  }
}

/** An https agent with the user's extra roots (bin/tsbuild.js moves NODE_EXTRA_CA_CERTS aside), if they named any. */
function userCaAgent(): { agent?: (u: URL) => HttpsAgent | undefined } {
  const ca = withUserCas(undefined);
  if (!ca) return {};
  const { Agent } = createRequire(import.meta.url)('node:https') as typeof import('node:https');
  const agent = new Agent({ ca });
  return { agent: (u) => (u.protocol === 'https:' ? agent : undefined) };
}

async function fetchTo(step: CopyStep, url: string, dir: string): Promise<Download> {
  const want = step.instruction.kind === 'add' ? step.instruction.checksum : null;
  const parsed = want === null ? null : CHECKSUM_RE.exec(want);
  if (want !== null && !parsed) {
    throw stepError(step, 'E_BAD_CHECKSUM', `invalid --checksum "${want}": expected sha256:<hex> (or sha384/sha512)`);
  }
  let res;
  try {
    // Loaded here, not at the top: every build loads this module, few download (node-fetch and its polyfills are ~250 KB to parse).
    const { default: fetch } = await import('node-fetch');
    res = await fetch(url, { redirect: 'follow', ...userCaAgent() });
  } catch (err) {
    throw stepError(step, 'E_URL_FETCH', `ADD ${url}: ${(err as Error).message}`, err);
  }
  if (!res.ok || !res.body) {
    throw stepError(step, 'E_URL_FETCH', `ADD ${url}: the server answered ${res.status} ${res.statusText}`);
  }
  const path = join(dir, `dl-${Math.random().toString(36).slice(2)}`);
  const hasher = new Hasher(parsed ? (parsed[1] as string) : null);
  try {
    await pipeline(res.body, hasher, createWriteStream(path, { mode: 0o600 }));
  } catch (err) {
    rmSync(path, { force: true });
    throw stepError(step, 'E_URL_FETCH', `ADD ${url}: download failed: ${(err as Error).message}`, err);
  }
  const sha256 = `sha256:${hasher.sha256.digest('hex')}`;
  if (parsed) {
    const got = `${parsed[1] as string}:${hasher.extra ? hasher.extra.digest('hex') : sha256.slice(7)}`;
    if (got !== want) {
      rmSync(path, { force: true });
      throw stepError(step, 'E_DIGEST_MISMATCH', `ADD ${url}: checksum mismatch: expected ${want as string}, got ${got}`);
    }
  }
  const lastModified = Date.parse(res.headers.get('last-modified') ?? '');
  const mtime = Number.isFinite(lastModified) ? lastModified / 1000 : Date.now() / 1000;
  return { path, digest: sha256, size: hasher.size, mtime };
}

/** The URL's content in a temp file (downloaded once per step instruction). */
export function downloadUrl(step: CopyStep, url: string): Promise<Download> {
  let perStep = downloads.get(step.instruction);
  if (!perStep) {
    perStep = new Map();
    downloads.set(step.instruction, perStep);
  }
  let p = perStep.get(url);
  if (!p) {
    p = fetchTo(step, url, tempDirIn(step.tmpDir ?? tmpdir()));
    perStep.set(url, p);
    p.catch(() => perStep?.delete(url));
  }
  return p;
}

/** The step is done with the URL: remove its temp file. */
export function releaseDownload(step: CopyStep, url: string): void {
  const perStep = downloads.get(step.instruction);
  const p = perStep?.get(url);
  if (!p) return;
  perStep?.delete(url);
  p.then((d) => rmSync(d.path, { force: true }), () => undefined);
}
