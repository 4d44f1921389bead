// The store's contract: the Store interface and the records it takes and
// gives. Types only, so the store's modules (and its users) can depend on the
// contract without importing the implementation; index.ts opens a store.
import type { Readable } from 'node:stream';
import type { BlobWriter } from './blob-writer.js';
import type { RunnableImage } from '../image/runnable.js';
import type { ImageConfig, ImageManifest } from '../image/oci.js';
import type { DerivedBlob, StreamedBlob } from './blob-on-demand.js';
import type { GzipChoice } from './codec/layer-gzip.js';

/** A blob's identity: `sha256:<hex>` and its length in bytes. */
export interface BlobInfo {
  digest: string;
  size: number;
}

/** What a caller already knows about content it is about to put (from a manifest). */
export interface ExpectedBlob {
  digest?: string;
  size?: number;
}

/** One image in the store. Keyed by manifest digest; its ID is the config digest (as docker's). */
export interface ImageRecord {
  /** `sha256:<config hex>`: the image ID, what containers' state.json `imageId` holds. */
  id: string;
  /** Digest of the image manifest stored in blobs/. */
  manifestDigest: string;
  /** application/vnd.oci.image.manifest.v1+json or Docker schema2. */
  manifestMediaType: string;
  /** Digest of the config blob (same as `id`). */
  configDigest: string;
  /** Normalised names, e.g. `docker.io/library/busybox:latest`. Empty for a dangling image. */
  names: string[];
  /** Normalised `name@sha256:…` references this image was pulled by (for `repo@digest` lookups). */
  repoDigests: string[];
  /** When the record was first written (ISO 8601). */
  created: string;
}

export interface PutImageInput {
  manifestDigest: string;
  manifestMediaType: string;
  configDigest: string;
  /** Names to give it; each is normalised and moved off any other image that had it. */
  names?: string[];
  repoDigests?: string[];
  /** The manifest's layer digests, when the caller has them: putImage then need not read the manifest back. */
  layerDigests?: string[];
}

export interface RemoveImageResult {
  /** Names removed (`untagged`) and image IDs whose record went (`deleted`), as docker prints. */
  untagged: string[];
  deleted: string[];
}

export interface PruneResult {
  blobsRemoved: number;
  layersRemoved: number;
  imagesRemoved: number;
  bytesFreed: number;
}

/** Receives a blob's bytes in order; its promise is the backpressure. */
export interface ByteSink {
  write(chunk: Buffer): Promise<void> | void;
}

/** Where a layer's blob comes from when the store does not hold it yet. */
export interface LayerSource {
  /** Put the blob into the store, passing every byte to `sink` too. */
  fetch(sink: ByteSink): Promise<void>;
}

/**
 * The store. Methods are safe to call concurrently from one process and from
 * many tsbuild processes sharing the root.
 */
export interface Store {
  readonly root: string;

  // ---- blobs (the CAS: umoci's PutBlob/GetBlob/StatBlob/DeleteBlob/Clean) ----

  /**
   * Write a blob from a stream. Atomic (temp file in tmp/, hashed while
   * written, fsync, rename) and idempotent (content already present is
   * reused). With `expected`, a digest or size mismatch throws
   * E_DIGEST_MISMATCH naming the expected digest and leaves nothing behind.
   */
  putBlob(source: Readable | AsyncIterable<Uint8Array>, expected?: ExpectedBlob): Promise<BlobInfo>;
  /**
   * A writer for one blob whose bytes land in `path` (on the store's file
   * system, e.g. a partial download under ROOT/registry/partial/) and are
   * renamed into the CAS on commit: a download is written once. What `path`
   * already holds is kept as a prefix to replay and continue after. Hold a
   * lease until the blob is referenced.
   */
  openBlobWriter(path: string, expected: ExpectedBlob): Promise<BlobWriter>;
  /** putBlob for small in-memory content such as manifests and configs. Atomic and idempotent. */
  putBlobBytes(data: Uint8Array, expected?: ExpectedBlob): Promise<BlobInfo>;
  /** True if the blob is present. Does not verify its content. */
  hasBlob(digest: string): Promise<boolean>;
  /** Size of a present blob, or undefined. Does not verify its content. */
  statBlob(digest: string): Promise<BlobInfo | undefined>;
  /**
   * A stream of the blob that errors with E_DIGEST_MISMATCH at EOF if the
   * bytes do not hash to `digest` (or the size differs from `size`, when
   * given). Throws E_BLOB_NOT_FOUND if absent.
   */
  openBlob(digest: string, size?: number): Promise<Readable>;
  /**
   * True if `digest` is the tar of a layer this store built: it is kept only
   * unpacked, and its tar and compressed blobs are made from the directory
   * on demand (blob-on-demand.ts). hasBlob/statBlob/openBlob serve its tar.
   */
  isBuiltLayer(digest: string): Promise<boolean>;
  /**
   * The gzip blob of built layer `diffId`, made now unless the CAS has it
   * (deterministic: the same bytes on every store), and remembered with the
   * layer. Nothing references it locally, so hold a lease (withLease) until
   * it is pushed or copied: prune frees it again.
   */
  compressedLayerBlob(diffId: string, choice?: GzipChoice): Promise<DerivedBlob>;
  /**
   * compressedLayerBlob for a reader that wants the bytes as they are made
   * (a push that uploads while it compresses): the blob's bytes in `body`
   * (also written into the CAS and recorded; `blob` settles when they all
   * are), or the blob itself when it is there already or being made by
   * another caller. Destroying `body` stops it and leaves nothing in the CAS.
   */
  streamLayerBlob(diffId: string, choice?: GzipChoice): Promise<StreamedBlob | DerivedBlob>;
  /** What compressedLayerBlob gave for `diffId` before, without making anything. */
  recordedLayerBlob(diffId: string, choice?: GzipChoice): Promise<DerivedBlob | undefined>;
  /** The whole verified blob in memory (for manifests and configs). */
  readBlob(digest: string, size?: number): Promise<Buffer>;
  /** readBlob + JSON.parse; throws E_STORE_CORRUPT for bad JSON. */
  readJson<T>(digest: string, size?: number): Promise<T>;
  /**
   * Fetch a blob the store holds only as a lazy layer record
   * (lazy-blobs.ts), checking its digest and diffID; nothing for other
   * blobs. openBlob and ensureLayerUnpacked do this by themselves.
   */
  materializeBlob(digest: string): Promise<void>;
  /** Remove a blob. Idempotent. Does not check references: prune does that. */
  deleteBlob(digest: string): Promise<void>;

  // ---- images ----

  /**
   * Record an image whose manifest and config blobs are already in the store
   * (E_BLOB_NOT_FOUND otherwise). Atomic; idempotent for the same manifest:
   * names are merged, and a name held by another image moves to this one.
   */
  putImage(input: PutImageInput): Promise<ImageRecord>;
  /**
   * Resolve what a user typed: a name (`busybox`, `busybox:1`, `host:5000/a/b:t`;
   * normalised as docker does), `name@sha256:…`, a full `sha256:…` ID or
   * manifest digest, or an ID prefix of at least 4 hex digits. Throws
   * E_IMAGE_NOT_FOUND, or E_AMBIGUOUS_ID for a prefix matching two images.
   */
  resolveImage(ref: string): Promise<ImageRecord>;
  /** As resolveImage but undefined when not found. */
  findImage(ref: string): Promise<ImageRecord | undefined>;
  /** Every image record, newest first. */
  listImages(): Promise<ImageRecord[]>;
  /** Give the image `ref` resolves to the extra name `name` (moved off any other image). */
  tagImage(ref: string, name: string): Promise<ImageRecord>;
  /** Remove one name. The record stays (dangling) until rmi/prune. Throws E_IMAGE_NOT_FOUND. */
  untagImage(name: string): Promise<void>;
  /**
   * docker rmi: a name argument removes that name, and the record when it
   * was the last; an ID argument removes the record (all its names). An image
   * used by a container is refused (E_IMAGE_IN_USE) unless `force`, which only
   * untags it. Then frees blobs and layers nothing else uses.
   */
  removeImage(ref: string, opts?: { force?: boolean }): Promise<RemoveImageResult>;
  /** The image's verified manifest and config. */
  readImage(record: ImageRecord): Promise<{ manifest: ImageManifest; config: ImageConfig }>;

  // ---- layers ----

  /**
   * The unpacked directory of a layer, for use as an overlay lowerdir.
   * Unpacks blob `blobDigest` (gzip, zstd or plain tar; detected by magic
   * bytes, `mediaType` only as a hint) on first use, checking that the
   * uncompressed stream hashes to `diffId` (E_DIGEST_MISMATCH otherwise).
   * Idempotent and concurrency-safe: concurrent callers for one layer, in
   * this process or others, all get the same finished directory.
   *
   * When the store lacks the blob, `source` supplies it: its fetch() writes
   * the blob into the store and feeds every byte to the sink as it goes, so
   * the layer is laid out during the download, not read back after it.
   */
  ensureLayerUnpacked(diffId: string, blobDigest: string, mediaType: string, source?: LayerSource): Promise<string>;
  /** The lowerdir path for a diffID if that layer is unpacked, else undefined. */
  layerDir(diffId: string): Promise<string | undefined>;
  /**
   * Publish a directory the caller built (a build step's overlay upperdir)
   * as the unpacked form of a layer whose blob is already in the store (or,
   * with `built`, whose tar is the deterministic tar of the directory and is
   * kept nowhere else: blobDigest is then the diffID), by
   * renaming it into place: no second copy of the files. `dir` must be on
   * the store's filesystem and already in overlay form. Idempotent: if the
   * layer is already present, `dir` is removed and the existing one returned.
   */
  adoptLayerDir(diffId: string, blobDigest: string, mediaType: string, dir: string, size: number, opts?: { built?: boolean }): Promise<string>;

  // ---- lifecycle ----

  /**
   * Run `fn` holding the shared gc lock, so that prune/rmi in any process
   * waits and cannot free content `fn` has written but not yet referenced
   * from an image record. Nestable.
   */
  withLease<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * From now on, blobs and layers this store writes are named without
   * fsyncs, unproven (crash rule 2), until flush(). For a build: one sync
   * instead of four a step.
   */
  deferDurability(): void;
  /**
   * One syncfs, then everything this store wrote unproven is proven, and so
   * are the `also` blobs and layers (what an image is about to name that
   * another, killed, writer of this boot left unproven). A no-op when
   * nothing is unproven. putImage and close call it.
   */
  flush(also?: { blobs?: readonly string[]; diffIds?: readonly string[] }): Promise<void>;
  /** Free dangling images not used by containers, then every blob and layer nothing references. */
  prune(): Promise<PruneResult>;
  /** Remove temp garbage left by crashed writers (also done by openStore). Idempotent. */
  clean(): Promise<void>;
  /** Flush a deferred batch; release locks and handles. */
  close(): Promise<void>;
}
