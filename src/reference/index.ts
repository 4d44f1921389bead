// Image references as docker spells them, normalised to one canonical form.
//
// Owns: the reference grammar (distribution/reference), the docker.io
// defaults (`busybox` → `docker.io/library/busybox:latest`) and the mapping
// from the registry name users write to the host the API lives on. Everything
// that names an image — pull, push, the store's name index, FROM — goes
// through parseReference so that `busybox`, `library/busybox` and
// `docker.io/library/busybox:latest` are the same key everywhere.
import { TsbuildError } from '../errors.js';

export const DEFAULT_REGISTRY = 'docker.io';
export const DEFAULT_TAG = 'latest';
/** docker.io is a name, not a host: its API answers at registry-1.docker.io. */
const DOCKER_HUB_API = 'registry-1.docker.io';

// Grammar pieces from distribution/reference/regexp.go, kept as separate
// pieces so that each error can say which part is wrong.
const ALNUM = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]+)';
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const PATH_RE = new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const HOST_RE = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]+)?$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DIGEST_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const SHA256_RE = /^sha256:[a-f0-9]{64}$/;
const NAME_MAX = 255;

export interface ImageReference {
  /** Registry name as users write it (`docker.io`, `localhost:5000`). */
  readonly registry: string;
  /** Repository path inside the registry (`library/busybox`). */
  readonly repository: string;
  readonly tag: string | undefined;
  readonly digest: string | undefined;
  /** `registry/repository`, without tag or digest. */
  readonly name: string;
  /** The full normalised form: `docker.io/library/busybox:latest`, `host/a@sha256:…`. */
  toString(): string;
  /** The short form docker prints: `busybox:latest`, `user/app:1`, `localhost:5000/a:1`. */
  familiarName(): string;
  /** Tag if there is one, else digest: what goes in /v2/<name>/manifests/<here>. */
  manifestRef(): string;
}

class Reference implements ImageReference {
  constructor(
    readonly registry: string,
    readonly repository: string,
    readonly tag: string | undefined,
    readonly digest: string | undefined,
  ) {}

  get name(): string {
    return `${this.registry}/${this.repository}`;
  }

  toString(): string {
    return this.name + suffix(this.tag, this.digest);
  }

  familiarName(): string {
    let name = this.name;
    if (this.registry === DEFAULT_REGISTRY) {
      name = this.repository.startsWith('library/') && this.repository.split('/').length === 2
        ? this.repository.slice('library/'.length)
        : this.repository;
    }
    return name + suffix(this.tag, this.digest);
  }

  manifestRef(): string {
    // A digest pins the content, so it wins over a tag given alongside it.
    return this.digest ?? this.tag ?? DEFAULT_TAG;
  }
}

function suffix(tag: string | undefined, digest: string | undefined): string {
  return (tag ? `:${tag}` : '') + (digest ? `@${digest}` : '');
}

function invalid(input: string, why: string): TsbuildError {
  return new TsbuildError('E_BAD_REFERENCE', `invalid reference "${input}": ${why}`);
}

/**
 * Parse and normalise a docker-style reference. A reference without tag or
 * digest gets `:latest`; one with only a digest keeps no tag (as docker does).
 * Throws TsbuildError E_BAD_REFERENCE naming the bad part.
 */
export function parseReference(input: string): ImageReference {
  const s = input.trim();
  if (s === '') throw invalid(input, 'empty name');

  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_RE.test(digest)) throw invalid(input, `bad digest "${digest}"`);
    if (digest.startsWith('sha256:') && !SHA256_RE.test(digest)) {
      throw invalid(input, 'a sha256 digest is 64 lowercase hex characters');
    }
  }

  // A tag is after the last ':' that comes after the last '/', so that the
  // port in `host:5000/name` is not mistaken for one.
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) throw invalid(input, `bad tag "${tag}"`);
  }
  if (rest === '') throw invalid(input, 'empty name');

  const [registry, remote] = splitDomain(rest);
  // A bare 64-hex name is an image ID; docker refuses it as a repository so
  // that `pull <id>` can't silently fetch a same-named repository.
  if (registry === DEFAULT_REGISTRY && /^[a-f0-9]{64}$/.test(remote)) {
    throw invalid(input, 'a 64-character hex string is an image ID, not a repository name');
  }
  if (!HOST_RE.test(registry)) throw invalid(input, `bad registry host "${registry}"`);
  if (remote !== remote.toLowerCase()) throw invalid(input, 'repository name must be lowercase');
  if (!PATH_RE.test(remote)) throw invalid(input, `bad repository name "${remote}"`);
  const repository = registry === DEFAULT_REGISTRY && !remote.includes('/') ? `library/${remote}` : remote;
  if (registry.length + 1 + repository.length > NAME_MAX) throw invalid(input, `name longer than ${NAME_MAX} characters`);

  return new Reference(registry, repository, tag ?? (digest ? undefined : DEFAULT_TAG), digest);
}

/**
 * The first path component is a registry only if it looks like a host: it has
 * a '.' or a ':' (port), or is `localhost`, or has upper case (which a
 * repository can't). Otherwise the whole name is a docker.io repository.
 */
function splitDomain(name: string): [string, string] {
  const slash = name.indexOf('/');
  const first = slash < 0 ? '' : name.slice(0, slash);
  if (slash < 0 || (!/[.:]/.test(first) && first !== 'localhost' && first === first.toLowerCase())) {
    return [DEFAULT_REGISTRY, name];
  }
  const host = first === 'index.docker.io' ? DEFAULT_REGISTRY : first;
  return [host, name.slice(slash + 1)];
}

/** Like parseReference but returns undefined instead of throwing. */
export function tryParseReference(input: string): ImageReference | undefined {
  try {
    return parseReference(input);
  } catch {
    return undefined;
  }
}

/** A copy of `ref` with another tag and no digest (for `push IMAGE DEST`-style retagging). */
export function withTag(ref: ImageReference, tag: string): ImageReference {
  if (!TAG_RE.test(tag)) throw invalid(tag, `bad tag "${tag}"`);
  return new Reference(ref.registry, ref.repository, tag, undefined);
}

/** A copy of `ref` pinned to `digest`, keeping its tag for display. */
export function withDigest(ref: ImageReference, digest: string): ImageReference {
  if (!SHA256_RE.test(digest)) throw invalid(digest, 'a sha256 digest is 64 lowercase hex characters');
  return new Reference(ref.registry, ref.repository, ref.tag, digest);
}

/** The host:port the registry API answers on (docker.io → registry-1.docker.io). */
export function apiHost(registry: string): string {
  return registry === DEFAULT_REGISTRY ? DOCKER_HUB_API : registry;
}

/** Registry names users write for Docker Hub, all folded into `docker.io`. */
export function normaliseRegistry(host: string): string {
  let h = host.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  if (h === 'index.docker.io' || h === DOCKER_HUB_API) h = DEFAULT_REGISTRY;
  return h;
}
