// Platforms as a build sees them: parsing a `--platform` list, the platform
// a stage runs on (FROM --platform, else the target), whether a platform
// runs natively on this host, and picking the stored image of a name for
// one platform, so that base images are cached per platform.
//
// Why here: the build, `run --platform` and the store's index records all
// need the same rules, and none of them should reach into another for it.
import { TsbuildError } from '../errors.js';
import type { ImageRecord, Store } from '../store/index.js';
import { formatPlatform, hostPlatform, parsePlatform } from './manifest.js';
import { parseReference } from '../reference/index.js';
import type { Platform } from './oci.js';

export { formatPlatform, hostPlatform, parsePlatform };

/** `linux/amd64,linux/arm64` → platforms, in the order given, without repeats. */
export function parsePlatformList(s: string): Platform[] {
  const out: Platform[] = [];
  for (const part of s.split(',')) {
    if (part.trim() === '') throw new TsbuildError('E_USAGE', `invalid --platform "${s}": empty entry`, { exitCode: 125 });
    const p = parsePlatform(part);
    if (!out.some((q) => samePlatform(q, p))) out.push(p);
  }
  return out;
}

/** arm64's variant is v8 whether or not it is named; arm's default is v7. */
function variantOf(p: Platform): string {
  if (p.variant) return p.variant;
  if (p.architecture === 'arm64') return 'v8';
  if (p.architecture === 'arm') return 'v7';
  return '';
}

export function samePlatform(a: Platform, b: Platform): boolean {
  return a.os === b.os && a.architecture === b.architecture && variantOf(a) === variantOf(b);
}

/**
 * The platform as BuildKit writes it in TARGETPLATFORM and the index:
 * arm64 without the implied v8 (BuildKit's platforms.Normalize drops it).
 */
export function canonicalPlatform(p: Platform): Platform {
  if (p.architecture === 'arm64' && p.variant === 'v8') return { os: p.os, architecture: p.architecture };
  return p.variant ? { os: p.os, architecture: p.architecture, variant: p.variant } : { os: p.os, architecture: p.architecture };
}

/** The host as BUILDPLATFORM names it. */
export function buildPlatform(): Platform {
  return canonicalPlatform(hostPlatform());
}

/** Architectures a host runs without an emulator (x86-64 runs i386 code; arm64 most arm). */
const NATIVE_ALSO: Record<string, string[]> = { amd64: ['386'], arm64: ['arm'] };

export function runsNatively(p: Platform, host: Platform = hostPlatform()): boolean {
  if (p.os !== 'linux') return false;
  return p.architecture === host.architecture || (NATIVE_ALSO[host.architecture] ?? []).includes(p.architecture);
}

/** The platform an image config declares. */
export function configPlatform(config: { architecture?: string; os?: string; variant?: string }): Platform {
  const p: Platform = { os: config.os ?? 'linux', architecture: config.architecture ?? 'amd64' };
  if (config.variant) p.variant = config.variant;
  return p;
}

/**
 * The stored image of `ref` for `platform`: the record tagged `ref` when
 * it is that platform, else an untagged record pulled from the same index
 * (same `name@digest`) for that platform. Undefined: pull it.
 */
export async function findImageForPlatform(store: Store, ref: string, platform: Platform): Promise<ImageRecord | undefined> {
  const tagged = await store.findImage(ref);
  if (tagged && await isPlatform(store, tagged, platform)) return tagged;
  if (!tagged) return undefined;
  const name = safeName(ref);
  const fromIndex = tagged.repoDigests.filter((d) => name === undefined || d.startsWith(`${name}@`));
  if (fromIndex.length === 0) return undefined;
  for (const r of await store.listImages()) {
    if (r === tagged || !r.repoDigests.some((d) => fromIndex.includes(d))) continue;
    if (await isPlatform(store, r, platform)) return r;
  }
  return undefined;
}

function safeName(ref: string): string | undefined {
  try { return parseReference(ref).name; } catch { return undefined; }
}

async function isPlatform(store: Store, record: ImageRecord, platform: Platform): Promise<boolean> {
  const { config } = await store.readImage(record);
  return samePlatform(configPlatform(config), platform);
}

/**
 * What `run`/`from` should use for `ref` on `platform` (default: this host):
 * an index the store keeps under `ref` gives its entry for the platform
 * (by manifest digest), a stored image of that platform gives itself;
 * undefined means "pull it for that platform". Throws when the index has
 * no such platform.
 */
export async function imageRefForPlatform(store: Store, ref: string, platform: Platform | undefined): Promise<string | undefined> {
  const { findIndexRecord, parseIndexRecord } = await import('../store/index-records.js');
  const want = platform ?? hostPlatform();
  const rec = findIndexRecord(store.root, ref);
  if (rec) {
    const { selectPlatform } = await import('./manifest.js');
    return selectPlatform(parseIndexRecord(rec), want, ref).digest;
  }
  if (!platform) return (await store.findImage(ref)) ? ref : undefined;
  return (await findImageForPlatform(store, ref, platform))?.id;
}
