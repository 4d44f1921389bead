// Pushing an image from the store to a registry.
//
// Owns: the order of a push — every blob first (config and layers, in
// parallel), the manifest last, so the registry never holds a manifest that
// names a missing blob. For each blob: HEAD to skip what the registry has, a
// cross-repository mount when the image came from another repository of the
// same registry, else an upload — one PUT for small blobs, one streamed
// PATCH and a closing PUT for large ones. A pulled image's manifest goes up
// byte for byte as stored, so its digest is the same on both sides; a built
// image's names its layers' gzip blobs, made on demand
// (store/distributable.ts), the same on every store. A built layer never
// compressed before is compressed while it uploads (pushStreamed).
import pLimit from 'p-limit';
import { Readable } from 'node:stream';
import { TsbuildError } from '../errors.js';
import type { Descriptor } from '../image/oci.js';
import type { ImageRecord, Store } from '../store/index.js';
import type { Logger } from '../log.js';
import { RegistryClient, type ClientOptions } from './http.js';
import { repositoryScope } from './auth.js';
import { parseManifest, sha256Digest } from '../image/manifest.js';
import { startDistributable, type PendingLayerBlob } from '../store/distributable.js';
import type { StreamedBlob } from '../store/index.js';
import { silentProgress, type Progress } from './progress.js';
import { parseReference, tryParseReference, type ImageReference } from '../reference/index.js';
import { readLazyBlob } from '../store/lazy-blobs.js';

/** Mount sources tried per blob before uploading it. */
const MAX_MOUNT_TRIES = 3;

/** Blobs up to this size go up in one PUT; larger ones as one streamed PATCH and a closing PUT. */
export const DEFAULT_MONOLITHIC_LIMIT = 32 * 1024 * 1024;

export interface PushOptions extends ClientOptions {
  progress?: Progress;
  concurrency?: number;
  /** Largest blob sent as a single PUT. */
  monolithicLimit?: number;
  client?: RegistryClient;
}

export interface PushResult {
  reference: ImageReference;
  /** Digest of the pushed manifest. */
  digest: string;
  size: number;
  /** How each blob got there: uploaded, mounted from another repository, or already present. */
  blobs: BlobCounts;
}

export interface BlobCounts {
  uploaded: number;
  mounted: number;
  existing: number;
}

interface Target {
  client: RegistryClient;
  dest: ImageReference;
  progress: Progress;
  monolithicLimit: number;
  counts: BlobCounts;
  log?: Logger;
}

/** Where `push IMAGE` goes without DEST: the name the user typed, if it names this image. */
function defaultDestination(image: string, record: ImageRecord): ImageReference {
  const ref = tryParseReference(image);
  if (ref && !ref.digest && record.names.includes(ref.toString())) return ref;
  throw new TsbuildError('E_USAGE', `"${image}" is not a name of the image; give a destination: tsbuild push ${image} REGISTRY/NAME[:TAG]`, { exitCode: 125 });
}

/** Repositories of the destination registry this image was pulled from or pushed to: mount sources. */
function mountSources(record: ImageRecord, dest: ImageReference): string[] {
  const repos = new Set<string>();
  for (const s of [...record.repoDigests, ...record.names]) {
    const r = tryParseReference(s);
    if (r && r.registry === dest.registry && r.repository !== dest.repository) repos.add(r.repository);
  }
  return [...repos];
}

/** Count bytes as they pass, for the progress bars. */
async function* counted(src: AsyncIterable<unknown>, onBytes: (n: number) => void): AsyncGenerator<Buffer> {
  for await (const chunk of src) {
    const b = chunk as Buffer;
    onBytes(b.length);
    yield b;
  }
}

const octet = (size: number, extra: Record<string, string> = {}): Record<string, string> =>
  ({ 'Content-Type': 'application/octet-stream', 'Content-Length': String(size), ...extra });

function withDigest(location: string, digest: string): string {
  const u = new URL(location);
  u.searchParams.set('digest', digest);
  return u.toString();
}

async function locationOf(t: Target, res: { headers: { get(n: string): string | null } }, what: string): Promise<string> {
  const loc = res.headers.get('location');
  if (!loc) throw new TsbuildError('E_REGISTRY', `${what}: registry ${t.dest.registry} sent no upload Location`);
  return t.client.absolute(loc);
}

/** Upload one blob to an open upload session. */
async function upload(store: Store, t: Target, desc: Descriptor, location: string): Promise<void> {
  const repo = t.dest.repository;
  const what = `uploading blob ${desc.digest} to ${t.dest.name}`;
  const common = { repository: repo, actions: ['pull', 'push'] as const, what };
  // A factory: a retried request reads the blob again from the start.
  const body = async (): Promise<Readable> => Readable.from(counted(await store.openBlob(desc.digest, desc.size), (n) => t.progress.advance(desc.digest, n)));
  if (desc.size <= t.monolithicLimit) {
    const res = await t.client.request({
      ...common, method: 'PUT', path: withDigest(location, desc.digest), headers: octet(desc.size), expect: [201], body,
    });
    await res.arrayBuffer();
    return;
  }
  // Larger: the whole blob streamed as one PATCH (a chunked upload of one
  // chunk, as containers/image and docker do), then the closing PUT. One
  // request instead of a round trip per chunk, and no chunk buffered in memory.
  t.log?.debug(`uploading ${desc.digest} (${desc.size} bytes) in one streamed PATCH`);
  const patched = await t.client.request({
    ...common, method: 'PATCH', path: location, expect: [202],
    headers: octet(desc.size, { 'Content-Range': `0-${desc.size - 1}` }), body,
  });
  await patched.arrayBuffer();
  const closing = withDigest(await locationOf(t, patched, what), desc.digest);
  const res = await t.client.request({ ...common, method: 'PUT', path: closing, headers: { 'Content-Length': '0' }, expect: [201] });
  await res.arrayBuffer();
}

/** Make sure the registry has blob `desc` in the destination repository. */
async function pushBlob(store: Store, t: Target, desc: Descriptor, mountFrom: readonly string[], ensureBlob?: (digest: string) => Promise<StreamedBlob | undefined>): Promise<void> {
  const repo = t.dest.repository;
  const scope = { repository: repo, actions: ['pull', 'push'] as const };
  const head = await t.client.request({ ...scope, method: 'HEAD', path: `/v2/${repo}/blobs/${desc.digest}`, expect: [200, 404] });
  await head.arrayBuffer();
  if (head.status === 200) { t.counts.existing++; t.progress.finish(desc.digest, 'skipped: already exists'); return; }
  // A built layer known only by its record, its blob pruned since: made
  // again while it uploads (the registry lacks it), checked against the
  // record by the CAS and against the digest by the registry.
  const streamed = await ensureBlob?.(desc.digest);
  try {
    await uploadMissing(store, t, desc, mountFrom, streamed);
  } finally {
    streamed?.body.destroy(); // not read (mounted after all, or failed): leaves nothing in the CAS
  }
}

/** pushBlob once the registry is known to lack `desc`: mount it from a sibling repository, or upload it. */
async function uploadMissing(store: Store, t: Target, desc: Descriptor, mountFrom: readonly string[], streamed: StreamedBlob | undefined): Promise<void> {
  const repo = t.dest.repository;
  const scope = { repository: repo, actions: ['pull', 'push'] as const };
  const have = streamed !== undefined || (await store.hasBlob(desc.digest));
  // A layer a cached build left lazy (store/lazy-blobs.ts): mounted from the
  // repository it lives in when that is on this registry, else fetched first.
  const lazy = readLazyBlob(store.root, desc.digest);
  if (!have && !lazy) {
    throw new TsbuildError('E_BLOB_NOT_FOUND', `blob ${desc.digest} of the image is not in the store; pull or rebuild the image`);
  }
  const lazyRepo = lazy?.source.kind === 'registry' && lazy.source.host === t.dest.registry && lazy.source.repository !== repo ? lazy.source.repository : undefined;
  let location: string | undefined;
  // Each candidate in turn (a build's cache repository, its base images'):
  // a mount the registry can't do (blob not there, no access) answers 202
  // with an ordinary upload session; all but the last are cancelled
  // (DELETE, as containers/image does), the last is used for the upload.
  const candidates = [...new Set([...(lazyRepo ? [lazyRepo] : []), ...mountFrom])].slice(0, MAX_MOUNT_TRIES);
  for (const [i, from] of candidates.entries()) {
    const res = await t.client.request({
      ...scope, method: 'POST', expect: [201, 202], extraScopes: [repositoryScope(from, ['pull'])],
      path: `/v2/${repo}/blobs/uploads/?mount=${encodeURIComponent(desc.digest)}&from=${encodeURIComponent(from)}`,
      headers: { 'Content-Length': '0' },
    });
    await res.arrayBuffer();
    if (res.status === 201) { t.counts.mounted++; t.progress.finish(desc.digest, `mounted from ${from}`); return; }
    location = await locationOf(t, res, `mounting blob ${desc.digest}`);
    if (i < candidates.length - 1) {
      await cancelUpload(t, location);
      location = undefined;
    }
  }
  if (!location) {
    const res = await t.client.request({ ...scope, method: 'POST', path: `/v2/${repo}/blobs/uploads/`, expect: [202], headers: { 'Content-Length': '0' } });
    await res.arrayBuffer();
    location = await locationOf(t, res, `starting upload of ${desc.digest}`);
  }
  if (streamed) {
    t.progress.start(desc.digest, desc.size);
    await streamUpload(t, location, desc.digest, streamed.body, streamed.blob);
    t.counts.uploaded++;
    t.progress.finish(desc.digest, 'done');
    return;
  }
  if (lazy) await store.materializeBlob(desc.digest); // digest and diffID checked before it goes up
  t.progress.start(desc.digest, desc.size);
  await upload(store, t, desc, location);
  t.counts.uploaded++;
  t.progress.finish(desc.digest, 'done');
}

async function cancelUpload(t: Target, location: string): Promise<void> {
  const res = await t.client.request({ repository: t.dest.repository, actions: ['pull', 'push'], method: 'DELETE', path: location, expect: [204, 404] }).catch(() => undefined);
  await res?.arrayBuffer().catch(() => undefined);
}

/**
 * Upload a built layer's gzip blob while it is made (issue 12): the
 * session opens first, the compressor's output is the body of one PATCH
 * (chunked, no Content-Range or Length: its size is not known yet; the
 * Debian docker-registry, distribution 2.8, takes it, as it takes
 * containers/image's PutBlobWithOptions, which streams a blob of unknown
 * size the same way) while the same bytes go into the CAS, which hashes
 * them; the digest is needed only by the closing PUT ?digest=, where the
 * registry checks it. The blob is recorded (blobs.json), so a later push
 * knows its digest and HEADs it first.
 *
 * The trade-off: with no record there is no digest to ask for (HEAD) or
 * mount before uploading, so a registry that already has the same layer
 * (pushed from another store: the bytes are the same everywhere) gets it
 * again. docker push (moby's distribution/push_v2.go) has the same gap: it
 * HEADs and mounts only digests its metadata service remembers for the
 * diffID, else compresses while it uploads; BuildKit instead compresses
 * whole before the push and HEADs the result.
 *
 * A failure mid-stream (upload or compression) destroys the stream, which
 * leaves nothing in the CAS (blob-on-demand.ts), and cancels the session.
 * Not retried: the session's offset has moved; the next push starts over.
 */
async function pushStreamed(store: Store, t: Target, pending: PendingLayerBlob, mountFrom: readonly string[], ensureBlob?: (digest: string) => Promise<StreamedBlob | undefined>): Promise<void> {
  const opened = await pending.open();
  // Made meanwhile (by a concurrent push of this process or another): an ordinary blob.
  if (!('body' in opened)) { await pushBlob(store, t, opened, mountFrom, ensureBlob); return; }
  const { body, descriptor } = opened;
  const repo = t.dest.repository;
  const label = pending.diffId;
  let location: string;
  try {
    const res = await t.client.request({ repository: repo, actions: ['pull', 'push'], method: 'POST', path: `/v2/${repo}/blobs/uploads/`, expect: [202], headers: { 'Content-Length': '0' }, what: `starting upload of layer ${label}` });
    await res.arrayBuffer();
    location = await locationOf(t, res, `starting upload of layer ${label}`);
  } catch (err) {
    body.destroy();
    throw err;
  }
  t.progress.start(label, pending.tarSize);
  const desc = await streamUpload(t, location, label, body, descriptor);
  t.counts.uploaded++;
  t.progress.finish(label, `done: ${desc.digest.slice(0, 19)}`);
}

/**
 * The streamed part of an upload: `body` (made while it is read; `made`
 * settles when all of it is, with the digest) as one chunked PATCH to the
 * open session at `location`, then the closing PUT ?digest=. On failure the
 * stream is destroyed (nothing left in the CAS) and the session cancelled.
 */
async function streamUpload<D extends { digest: string }>(t: Target, location: string, label: string, body: Readable, made: Promise<D>): Promise<D> {
  const what = `uploading blob ${label} to ${t.dest.name}`;
  const common = { repository: t.dest.repository, actions: ['pull', 'push'] as const, what };
  let at = location;
  try {
    t.log?.debug(`uploading ${label} while it compresses, in one streamed PATCH`);
    const patched = await t.client.request({
      ...common, method: 'PATCH', path: at, expect: [202], once: true,
      headers: { 'Content-Type': 'application/octet-stream' },
      // Byte mode with a small buffer: the default (object mode, 16 chunks)
      // would let the compressor run up to 16 blocks ahead of the socket.
      body: Readable.from(counted(body, (n) => t.progress.advance(label, n)), { objectMode: false, highWaterMark: 1 << 20 }),
    });
    await patched.arrayBuffer();
    at = await locationOf(t, patched, what);
    const desc = await made; // every byte made and in the CAS: the digest is known
    const closing = await t.client.request({ ...common, method: 'PUT', path: withDigest(at, desc.digest), headers: { 'Content-Length': '0' }, expect: [201] });
    await closing.arrayBuffer();
    return desc;
  } catch (err) {
    body.destroy();
    // The compressor's own failure (a layer directory changed under the store) says more than the broken upload it caused.
    const failed = await made.then(() => undefined, (e: unknown) => e);
    await cancelUpload(t, at);
    t.progress.finish(label, 'failed');
    throw failed instanceof TsbuildError ? failed : err;
  }
}

export interface ContentPushOptions extends PushOptions {
  /** More repositories of the destination registry to mount blobs from (a build's cache refs). */
  mountFrom?: readonly string[];
  /** Called for a blob the registry lacks, before it is read: makes a remembered blob the store dropped. */
  ensureBlob?: (digest: string) => Promise<StreamedBlob | undefined>;
}

/**
 * Push the stored image `image` (a name or ID) to `destination` (default:
 * the name itself). Blobs first, manifest last; returns the manifest digest.
 */
export async function push(store: Store, image: string, destination?: string, opts: ContentPushOptions = {}): Promise<PushResult> {
  const record = await store.resolveImage(image);
  const dest = destination ? parseReference(destination) : defaultDestination(image, record);
  const bytes = await store.readBlob(record.manifestDigest);
  const parsed = parseManifest(bytes, record.manifestMediaType, record.manifestDigest);
  if (parsed.kind !== 'image') throw new TsbuildError('E_UNSUPPORTED_MANIFEST', `image ${image} has an index, not an image manifest`);
  const sources = [...new Set([...mountSources(record, dest), ...(opts.mountFrom ?? []).filter((r) => r !== dest.repository)])];
  // Built layers leave as gzip blobs made now (or remembered), each uploaded
  // as soon as it is made while the next compresses; the lease keeps prune
  // off them until the manifest that names them is up.
  return store.withLease(async () => {
    // Layers compressed before are named by their record at once; a blob is
    // made again only if the registry lacks it (ensureBlob).
    // Pushed by a digest other than the stored one, the manifest must be known
    // before anything goes up: then layers are compressed first, not streamed.
    const parts = startDistributable(store, bytes, parsed.manifest, { deferRecorded: true, streamUnrecorded: !dest.digest });
    if (dest.digest && dest.digest !== record.manifestDigest && dest.digest !== (await parts.result).digest) {
      throw new TsbuildError('E_DIGEST_MISMATCH', `cannot push ${image} as ${dest.toString()}: its manifest digest is ${(await parts.result).digest}`);
    }
    const manifest = parts.result.then((out) => ({ bytes: out.bytes, mediaType: parsed.mediaType }));
    // Awaited only after every blob is up: a layer that failed fails the blob push first, and must not also be unhandled here.
    manifest.catch(() => undefined);
    return pushContent(store, dest, manifest, [parsed.manifest.config, ...parts.uploads], { ...opts, mountFrom: sources, ensureBlob: parts.ensure });
  });
}

/**
 * Push `blobs` (all in the store, or promised: each goes up once it is
 * there) and then `manifest` (which names them) as `dest`; pushed by digest,
 * the manifest goes under its own digest. The image push above and the
 * build cache export share it.
 */
export async function pushContent(store: Store, dest: ImageReference, manifestIn: { bytes: Buffer; mediaType: string } | Promise<{ bytes: Buffer; mediaType: string }>, blobs: readonly (Descriptor | Promise<Descriptor | PendingLayerBlob>)[], opts: ContentPushOptions = {}): Promise<PushResult> {
  const client = opts.client ?? new RegistryClient(dest.registry, opts);
  const t: Target = { client, dest, progress: opts.progress ?? silentProgress, monolithicLimit: opts.monolithicLimit ?? DEFAULT_MONOLITHIC_LIMIT, counts: { uploaded: 0, mounted: 0, existing: 0 }, log: opts.log };
  try {
    const limit = pLimit(opts.concurrency ?? 4);
    const started = new Set<string>();
    await Promise.all(blobs.map(async (p) => {
      const d = await p;
      if ('kind' in d) { await limit(() => pushStreamed(store, t, d, opts.mountFrom ?? [], opts.ensureBlob)); return; }
      if (started.has(d.digest)) return;
      started.add(d.digest);
      await limit(() => pushBlob(store, t, d, opts.mountFrom ?? [], opts.ensureBlob));
    }));
    const manifest = await manifestIn;
    const digest = sha256Digest(manifest.bytes);
    const tagOrDigest = dest.digest ? digest : (dest.tag ?? 'latest');
    t.progress.note('Writing manifest to image destination');
    const res = await client.request({
      method: 'PUT', path: `/v2/${dest.repository}/manifests/${tagOrDigest}`, repository: dest.repository, actions: ['pull', 'push'],
      headers: { 'Content-Type': manifest.mediaType, 'Content-Length': String(manifest.bytes.length) }, body: manifest.bytes, expect: [201],
      what: `manifest ${dest.toString()}`,
    });
    await res.arrayBuffer();
    const echoed = res.headers.get('docker-content-digest');
    if (echoed && echoed !== digest) {
      throw new TsbuildError('E_DIGEST_MISMATCH', `registry ${dest.registry} stored manifest ${dest.toString()} as ${echoed}, expected ${digest}`);
    }
    const reference = dest.digest && dest.digest !== digest ? parseReference(`${dest.name}@${digest}`) : dest;
    return { reference, digest, size: manifest.bytes.length, blobs: t.counts };
  } finally {
    t.progress.close();
    if (!opts.client) client.close();
  }
}
