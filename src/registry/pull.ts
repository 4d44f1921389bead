// Pulling an image from a registry into the store.
//
// Owns: the order of a pull — manifest (following an index to this
// platform's entry), config, then layers in parallel, each verified by the
// store against its digest and size, then unpacked, then the image record.
// Nothing is named until every blob is in: a failed pull leaves at most
// verified, unreferenced blobs (and resumable partial files), never an image
// that points at content the store lacks. The whole pull holds a store lease
// so that a concurrent prune can't free blobs between steps.
import pLimit from 'p-limit';
import { TsbuildError } from '../errors.js';
import type { Descriptor, ImageConfig, ImageManifest, Platform } from '../image/oci.js';
import type { ImageRecord, Store } from '../store/index.js';
import { RegistryClient, type ClientOptions } from './http.js';
import { MANIFEST_ACCEPT, hostPlatform, parseManifest, selectPlatform, sha256Digest } from '../image/manifest.js';
import { cleanStalePartials, fetchBlob, type BlobSource } from './partial-blob.js';
import { silentProgress, type Progress } from './progress.js';
import { parseReference, type ImageReference } from '../reference/index.js';

/** Registries cap manifests at 4 MiB; so do we, before parsing. */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const MAX_CONFIG_BYTES = 8 * 1024 * 1024;

export interface PullOptions extends ClientOptions {
  platform?: Platform;
  progress?: Progress;
  /** Parallel layer downloads. */
  concurrency?: number;
  /** false: leave the image unnamed (a foreign platform a build pulls, so the host's image keeps the tag). */
  tag?: boolean;
  /** A client to reuse (tests, or a build pulling several images). */
  client?: RegistryClient;
  /** The manifest already fetched for this reference (a build resolves its images first). */
  manifest?: FetchedManifest;
}

export interface PullResult {
  image: ImageRecord;
  /** The normalised reference pulled. */
  reference: ImageReference;
  /** Digest of the manifest (or index) the reference named: what `name@digest` pins. */
  digest: string;
}

export interface FetchedManifest {
  bytes: Buffer;
  digest: string;
  mediaType: string;
  manifest: ImageManifest;
  /** Digest of the top-level manifest or index the tag pointed at. */
  topDigest: string;
}

/** GET a manifest by tag or digest; verifies the digest when we know it. */
async function getManifest(client: RegistryClient, ref: ImageReference, which: string, expected?: Descriptor) {
  const what = `manifest for ${ref.name}${which.startsWith('sha256:') ? `@${which}` : `:${which}`}`;
  const res = await client.request({
    path: `/v2/${ref.repository}/manifests/${which}`,
    repository: ref.repository,
    headers: { Accept: MANIFEST_ACCEPT },
    what,
  });
  const len = Number(res.headers.get('content-length') ?? 0);
  if (len > MAX_MANIFEST_BYTES) throw new TsbuildError('E_UNSUPPORTED_MANIFEST', `${what}: manifest larger than ${MAX_MANIFEST_BYTES} bytes`);
  const bytes = Buffer.from(await res.arrayBuffer());
  if (bytes.length > MAX_MANIFEST_BYTES) throw new TsbuildError('E_UNSUPPORTED_MANIFEST', `${what}: manifest larger than ${MAX_MANIFEST_BYTES} bytes`);
  const digest = sha256Digest(bytes);
  const want = expected?.digest ?? (which.startsWith('sha256:') ? which : undefined);
  if (want && digest !== want) {
    throw new TsbuildError('E_DIGEST_MISMATCH', `${what}: manifest digest mismatch: expected ${want}, got ${digest}`);
  }
  if (expected && bytes.length !== expected.size) {
    throw new TsbuildError('E_DIGEST_MISMATCH', `${what}: manifest ${expected.digest} size mismatch: expected ${expected.size}, got ${bytes.length}`);
  }
  return { bytes, digest, parsed: parseManifest(bytes, res.headers.get('content-type'), what) };
}

/** Resolve a reference to one image manifest for `platform`, following an index. */
export async function fetchImageManifest(client: RegistryClient, ref: ImageReference, platform: Platform): Promise<FetchedManifest> {
  const top = await getManifest(client, ref, ref.manifestRef());
  if (top.parsed.kind === 'image') {
    return { bytes: top.bytes, digest: top.digest, mediaType: top.parsed.mediaType, manifest: top.parsed.manifest, topDigest: top.digest };
  }
  const entry = selectPlatform(top.parsed.index, platform, ref.toString());
  const child = await getManifest(client, ref, entry.digest, entry);
  if (child.parsed.kind !== 'image') {
    throw new TsbuildError('E_UNSUPPORTED_MANIFEST', `${ref.toString()}: index entry ${entry.digest} is itself an index`);
  }
  return { bytes: child.bytes, digest: child.digest, mediaType: child.parsed.mediaType, manifest: child.parsed.manifest, topDigest: top.digest };
}

/** The config blob, verified by the store and parsed; fetched only if missing. */
async function fetchConfig(store: Store, src: BlobSource, desc: Descriptor): Promise<ImageConfig> {
  if (desc.size > MAX_CONFIG_BYTES) throw new TsbuildError('E_UNSUPPORTED_MANIFEST', `config ${desc.digest} in ${src.name} is larger than ${MAX_CONFIG_BYTES} bytes`);
  if (!(await store.hasBlob(desc.digest))) {
    const res = await src.client.request({ path: `/v2/${src.repository}/blobs/${desc.digest}`, repository: src.repository, what: `config ${desc.digest} in ${src.name}` });
    await store.putBlobBytes(Buffer.from(await res.arrayBuffer()), { digest: desc.digest, size: desc.size });
  }
  const config = await store.readJson<ImageConfig>(desc.digest, desc.size);
  if (!config.rootfs || !Array.isArray(config.rootfs.diff_ids)) {
    throw new TsbuildError('E_UNSUPPORTED_MANIFEST', `config ${desc.digest} in ${src.name} has no rootfs.diff_ids`);
  }
  return config;
}

/**
 * Pull `reference` into the store and name it. Returns the image record
 * (its `id` is the config digest). Blobs the store already has are not
 * downloaded again.
 */
export async function pull(store: Store, reference: string | ImageReference, opts: PullOptions = {}): Promise<PullResult> {
  const ref = typeof reference === 'string' ? parseReference(reference) : reference;
  const client = opts.client ?? new RegistryClient(ref.registry, opts);
  const progress = opts.progress ?? silentProgress;
  try {
    await cleanStalePartials(store).catch(() => undefined);
    const fetched = opts.manifest ?? await fetchImageManifest(client, ref, opts.platform ?? hostPlatform());
    const { manifest } = fetched;
    const src: BlobSource = { client, repository: ref.repository, name: ref.name };
    const image = await store.withLease(async () => {
      const config = await fetchConfig(store, src, manifest.config);
      const diffIds = config.rootfs.diff_ids;
      if (diffIds.length !== manifest.layers.length) {
        throw new TsbuildError('E_UNSUPPORTED_MANIFEST', `${ref.toString()}: manifest has ${manifest.layers.length} layers but config lists ${diffIds.length} diff_ids`);
      }
      const limit = pLimit(opts.concurrency ?? 4);
      // Each layer is unpacked while it downloads (the blob is written once
      // and the same bytes feed the unpacker); unpacking verifies the diffID
      // and the download the blob digest, so a wrong layer fails here,
      // before anything is named.
      await Promise.all(manifest.layers.map((layer, i) => limit(async () => {
        const download = { progress, baseDelayMs: opts.baseDelayMs };
        let fetched = false;
        await store.ensureLayerUnpacked(diffIds[i] as string, layer.digest, layer.mediaType, {
          fetch: (sink) => {
            fetched = true;
            return fetchBlob(store, src, layer, { ...download, sink });
          },
        });
        // Unpacked before (or unpacked from a blob already here): this reports
        // "already exists", or fetches a blob push will need.
        if (!fetched) await fetchBlob(store, src, layer, download);
      })));
      progress.note('Writing manifest to image destination');
      await store.putBlobBytes(fetched.bytes, { digest: fetched.digest, size: fetched.bytes.length });
      return store.putImage({
        manifestDigest: fetched.digest,
        manifestMediaType: fetched.mediaType,
        configDigest: manifest.config.digest,
        names: ref.tag && opts.tag !== false ? [`${ref.name}:${ref.tag}`] : [],
        repoDigests: [`${ref.name}@${fetched.topDigest}`],
      });
    });
    return { image, reference: ref, digest: fetched.topDigest };
  } finally {
    progress.close();
    if (!opts.client) client.close();
  }
}
