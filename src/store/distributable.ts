// The manifest an image leaves the store with. A built layer is named in
// the local manifest by its diffID with the uncompressed media type (the
// store keeps it unpacked only, blob-on-demand.ts); what goes to a registry
// or an OCI archive names its gzip blob instead, made here on demand. The
// local image ID (the config digest, over diffIDs) is the same either way,
// so the image exists before anything is compressed, as in BuildKit, which
// also compresses at export.
//
// The result is a function of the local manifest and the layers' tars: the
// same on every store and every time (the reproducibility tests push from
// two stores). A manifest with no built layer (pulled, loaded) is returned
// byte for byte, so its digest stays the registry's.
import type { Readable } from 'node:stream';
import type { Descriptor, ImageManifest } from '../image/oci.js';
import { sha256Of } from './digest.js';
import type { GzipChoice } from './codec/layer-gzip.js';
import type { Store } from './types.js';
import type { StreamedBlob } from './blob-on-demand.js';

export interface DistributableManifest {
  bytes: Buffer;
  digest: string;
  manifest: ImageManifest;
  /** True if some layer was swapped for its compressed blob. */
  converted: boolean;
}

/** The descriptor of `layer` as it leaves the store: its gzip blob if the store built it, else itself. */
export async function distributableLayer(store: Store, layer: Descriptor, choice?: GzipChoice): Promise<Descriptor> {
  if (!(await store.isBuiltLayer(layer.digest))) return layer;
  const blob = await store.compressedLayerBlob(layer.digest, choice);
  const { annotations } = layer;
  return { mediaType: blob.mediaType, digest: blob.digest, size: blob.size, ...(annotations ? { annotations } : {}) };
}

/**
 * A built layer whose gzip blob is made while it uploads (`streamUnrecorded`):
 * nobody knows its digest until its last byte is made, so it cannot be
 * asked for (HEAD) or mounted first, only uploaded.
 */
export interface PendingLayerBlob {
  readonly kind: 'pending';
  /** The layer's diffID: what names it (progress) until its digest is known. */
  readonly diffId: string;
  /** The tar's size (the gzip is at most a little larger). */
  readonly tarSize: number;
  /**
   * Start making it, once: its bytes as they are made (`descriptor`
   * settles when all are, in the CAS and recorded), or its descriptor when
   * there is nothing to stream (made meanwhile, by this process or another).
   */
  open(): Promise<{ body: Readable; descriptor: Promise<Descriptor> } | Descriptor>;
}

/** A conversion under way: each layer's descriptor as soon as its blob is made, and the manifest once all are. */
export interface DistributableParts {
  layers: Promise<Descriptor>[];
  /** What to upload for each layer: `layers`, but a PendingLayerBlob where one streams. */
  uploads: Promise<Descriptor | PendingLayerBlob>[];
  result: Promise<DistributableManifest>;
  /**
   * With `deferRecorded`: for a layer that was named by its record and
   * whose blob is not in the CAS (prune freed it), start making it again
   * as a stream (store.streamLayerBlob: its bytes checked against the
   * record as they go into the CAS); undefined for any other digest, or
   * when the blob is there (made meanwhile, too).
   */
  ensure: (digest: string) => Promise<StreamedBlob | undefined>;
}

export interface DistributableOptions {
  choice?: GzipChoice;
  /**
   * Name a layer compressed before by its record, without making sure its
   * blob is still in the CAS (prune frees it): a push that finds the blob in
   * the registry then compresses nothing. The caller calls ensure() for a
   * blob it has to read.
   */
  deferRecorded?: boolean;
  /**
   * With `deferRecorded`: a layer never compressed is not made here but
   * handed to the caller as a PendingLayerBlob (in `uploads`), made while
   * the caller reads it; its entry in `layers` settles when it is made.
   * Only for a caller that reads every pending blob (or gives up on the
   * manifest): `result` waits for them.
   */
  streamUnrecorded?: boolean;
}

/**
 * Start making the manifest to push or export for the stored manifest
 * `bytes`: built layers replaced by their gzip blobs (made now unless made
 * before), bottom first, two at a time (the compressor already uses every
 * core; a second layer fills its gaps: reading files, hashing). A caller
 * can upload each layer as it is ready, while later ones compress. Hold a
 * lease until the blobs are copied.
 */
export function startDistributable(store: Store, bytes: Buffer, manifest: ImageManifest, opts: DistributableOptions = {}): DistributableParts {
  const { choice } = opts;
  const deferred = new Map<string, string>(); // gzip digest → diffID
  const waiting: (() => void)[] = [];
  let running = 0;
  const slot = async (): Promise<() => void> => {
    while (running >= 2) await new Promise<void>((r) => waiting.push(r));
    running++;
    return () => { running--; waiting.shift()?.(); };
  };
  const withAnnotations = (l: Descriptor, d: { mediaType: string; digest: string; size: number }): Descriptor =>
    ({ mediaType: d.mediaType, digest: d.digest, size: d.size, ...(l.annotations ? { annotations: l.annotations } : {}) });
  const pendingOf = (l: Descriptor, settle: (d: Promise<Descriptor>) => void): PendingLayerBlob => {
    let opened = false;
    return {
      kind: 'pending', diffId: l.digest, tarSize: l.size,
      open: async () => {
        if (opened) throw new Error(`layer ${l.digest} streamed twice`);
        opened = true;
        const release = await slot();
        try {
          const s = await store.streamLayerBlob(l.digest, choice);
          if (!('body' in s)) { release(); settle(Promise.resolve(withAnnotations(l, s))); return withAnnotations(l, s); }
          const descriptor = s.blob.then((b) => withAnnotations(l, b)).finally(release);
          settle(descriptor);
          return { body: s.body, descriptor };
        } catch (err) {
          release();
          settle(Promise.reject(err));
          throw err;
        }
      },
    };
  };
  const entries = manifest.layers.map(async (l): Promise<{ layer: Promise<Descriptor>; upload: Descriptor | PendingLayerBlob }> => {
    if (!(await store.isBuiltLayer(l.digest))) return { layer: Promise.resolve(l), upload: l };
    const rec = opts.deferRecorded ? await store.recordedLayerBlob(l.digest, choice) : undefined;
    if (rec) {
      deferred.set(rec.digest, l.digest);
      const d = withAnnotations(l, rec);
      return { layer: Promise.resolve(d), upload: d };
    }
    if (opts.deferRecorded && opts.streamUnrecorded) {
      let settle!: (d: Promise<Descriptor>) => void;
      const layer = new Promise<Descriptor>((resolve) => { settle = resolve; });
      return { layer, upload: pendingOf(l, settle) };
    }
    const release = await slot();
    try {
      const d = await distributableLayer(store, l, choice);
      return { layer: Promise.resolve(d), upload: d };
    } finally {
      release();
    }
  });
  const layers = entries.map((e) => e.then((x) => x.layer));
  const uploads = entries.map((e) => e.then((x) => x.upload));
  const result = Promise.all(layers).then((out): DistributableManifest => {
    if (out.every((d, i) => d === manifest.layers[i])) return { bytes, digest: sha256Of(bytes), manifest, converted: false };
    // Same key order as the stored manifest (a parsed object keeps it).
    const m: ImageManifest = { ...manifest, layers: out };
    const outBytes = Buffer.from(JSON.stringify(m));
    return { bytes: outBytes, digest: sha256Of(outBytes), manifest: m, converted: true };
  });
  // Whoever awaits `result` sees a failure; the per-layer promises must not also be unhandled.
  for (const l of [...layers, ...uploads]) l.catch(() => undefined);
  const ensure = async (digest: string): Promise<StreamedBlob | undefined> => {
    const diffId = deferred.get(digest);
    if (!diffId || (await store.hasBlob(digest))) return undefined;
    const s = await store.streamLayerBlob(diffId, choice);
    return 'body' in s ? s : undefined;
  };
  return { layers, uploads, result, ensure };
}

/** startDistributable, awaited whole. A manifest with no built layer comes back byte for byte. */
export function distributableManifest(store: Store, bytes: Buffer, manifest: ImageManifest, choice?: GzipChoice): Promise<DistributableManifest> {
  return startDistributable(store, bytes, manifest, { choice }).result;
}
