// Manifests as registries and image archives hold them: which kinds we
// accept, how we tell them apart, and which entry of a multi-platform index
// we use. It sits in image/ (not registry/) because `load` of an archive and
// the store's platform lookup need the same rules as a pull: registry/
// imports image/, never the other way (issue 15).
//
// Owns: the Accept header for manifest GETs, classifying a manifest body
// (OCI index / Docker manifest list vs OCI / Docker schema2 image manifest),
// rejecting schema1 and non-image artifacts with a clear error, checking
// descriptors before any blob is fetched, and platform selection
// (`--platform os/arch[/variant]`, default: this host).
import { sha256Hex } from '../sha256.js';
import { TsbuildError } from '../errors.js';
import { MediaType, type Descriptor, type ImageIndex, type ImageManifest, type Platform } from './oci.js';

const SCHEMA1 = ['application/vnd.docker.distribution.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v1+prettyjws'];

/** Everything we can pull, best first (as containers/image sends it). */
export const MANIFEST_ACCEPT = [MediaType.ociManifest, MediaType.dockerManifest, MediaType.ociIndex, MediaType.dockerManifestList].join(', ');

const CONFIG_TYPES = new Set<string>([MediaType.ociConfig, MediaType.dockerConfig]);
const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

export type ParsedManifest =
  | { kind: 'index'; mediaType: string; index: ImageIndex }
  | { kind: 'image'; mediaType: string; manifest: ImageManifest };

export function sha256Digest(data: Uint8Array): string {
  return `sha256:${sha256Hex(data)}`;
}

function unsupported(what: string, why: string): TsbuildError {
  return new TsbuildError('E_UNSUPPORTED_MANIFEST', `${what}: ${why}`);
}

/**
 * Classify and check a manifest body. The body's own `mediaType` wins over
 * the Content-Type header (some registries send application/json); with
 * neither, the shape decides.
 */
export function parseManifest(body: Uint8Array, contentType: string | null, what: string): ParsedManifest {
  const header = contentType?.split(';')[0]?.trim();
  if (header && SCHEMA1.includes(header)) throw schema1(what);
  let json: Record<string, unknown>;
  try {
    const v: unknown = JSON.parse(Buffer.from(body).toString('utf8'));
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    json = v as Record<string, unknown>;
  } catch (err) {
    throw unsupported(what, `manifest is not valid JSON (${(err as Error).message})`);
  }
  if (json.schemaVersion === 1) throw schema1(what);
  if (json.schemaVersion !== 2) throw unsupported(what, `unknown manifest schemaVersion ${String(json.schemaVersion)}`);
  const declared = typeof json.mediaType === 'string' ? json.mediaType : undefined;
  const mediaType = declared ?? (header && header !== 'application/json' ? header : undefined)
    ?? (Array.isArray(json.manifests) ? MediaType.ociIndex : MediaType.ociManifest);

  if (mediaType === MediaType.ociIndex || mediaType === MediaType.dockerManifestList) {
    if (!Array.isArray(json.manifests)) throw unsupported(what, 'index has no "manifests" list');
    for (const d of json.manifests) checkDescriptor(d, what);
    return { kind: 'index', mediaType, index: json as unknown as ImageIndex };
  }
  if (mediaType === MediaType.ociManifest || mediaType === MediaType.dockerManifest) {
    const config = json.config as Descriptor | undefined;
    if (!Array.isArray(json.layers) || !config) throw unsupported(what, 'manifest has no config or layers');
    checkDescriptor(config, what);
    if (!CONFIG_TYPES.has(config.mediaType)) {
      throw unsupported(what, `not a container image (config media type ${config.mediaType})`);
    }
    for (const d of json.layers) checkDescriptor(d, what);
    return { kind: 'image', mediaType, manifest: json as unknown as ImageManifest };
  }
  throw unsupported(what, `unsupported manifest media type ${mediaType}`);
}

function schema1(what: string): TsbuildError {
  return unsupported(what, 'Docker schema1 manifests are not supported; push the image again with a current docker, buildah or skopeo');
}

/** Digests must be sha256 we can verify; sizes must be sane before we trust them for downloads. */
function checkDescriptor(d: unknown, what: string): asserts d is Descriptor {
  const desc = d as Partial<Descriptor> | null;
  if (!desc || typeof desc !== 'object') throw unsupported(what, 'malformed descriptor');
  if (typeof desc.digest !== 'string' || !DIGEST_RE.test(desc.digest)) {
    throw unsupported(what, `descriptor digest "${String(desc.digest)}" is not a sha256 digest`);
  }
  if (typeof desc.size !== 'number' || !Number.isSafeInteger(desc.size) || desc.size < 0) {
    throw unsupported(what, `descriptor ${desc.digest} has an invalid size`);
  }
  if (typeof desc.mediaType !== 'string') throw unsupported(what, `descriptor ${desc.digest} has no media type`);
}

const NODE_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', mips: 'mips', mipsel: 'mipsle', loong64: 'loong64' };

/** The platform of this host in OCI terms. */
export function hostPlatform(): Platform {
  const architecture = NODE_ARCH[process.arch] ?? process.arch;
  return architecture === 'arm64' ? { os: 'linux', architecture, variant: 'v8' } : { os: 'linux', architecture };
}

/** Parse `os/arch[/variant]` as `--platform` takes it. */
export function parsePlatform(s: string): Platform {
  const parts = s.trim().toLowerCase().split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9._-]+$/.test(p))) {
    throw new TsbuildError('E_USAGE', `invalid platform "${s}": expected os/arch[/variant], e.g. linux/arm64`, { exitCode: 125 });
  }
  const [os, arch, variant] = parts as [string, string, string | undefined];
  // Accept the aliases docker accepts.
  const architecture = arch === 'x86_64' || arch === 'x86-64' ? 'amd64' : arch === 'aarch64' ? 'arm64' : arch;
  return variant ? { os, architecture, variant } : { os, architecture };
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/** arm64's variant is v8 whether or not the index says so; arm's default is v7. */
function normalVariant(arch: string, variant: string | undefined): string | undefined {
  if (variant) return variant;
  if (arch === 'arm64') return 'v8';
  if (arch === 'arm') return 'v7';
  return undefined;
}

/**
 * The index entry for `want`. Exact os/arch; the variant must match when
 * either side names one (after defaults). Attestation manifests that
 * BuildKit adds (platform unknown/unknown) are never chosen.
 */
export function selectPlatform(index: ImageIndex, want: Platform, what: string): Descriptor {
  const wantVariant = normalVariant(want.architecture, want.variant);
  const candidates = index.manifests.filter((d) => d.platform && d.annotations?.['vnd.docker.reference.type'] !== 'attestation-manifest');
  const match = candidates.find((d) => {
    const p = d.platform as Platform;
    if (p.os !== want.os || p.architecture !== want.architecture) return false;
    return normalVariant(p.architecture, p.variant) === wantVariant;
  });
  if (match) return match;
  // An index that names no platforms at all (some OCI layouts) with one
  // image in it: that image is the only reasonable choice.
  if (index.manifests.length === 1 && !index.manifests[0]?.platform) return index.manifests[0] as Descriptor;
  const available = candidates.map((d) => formatPlatform(d.platform as Platform));
  throw new TsbuildError('E_NO_MATCHING_PLATFORM',
    `${what}: no image for platform ${formatPlatform(want)}${available.length ? ` (available: ${available.join(', ')})` : ''}`);
}
