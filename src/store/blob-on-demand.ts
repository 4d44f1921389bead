// Blobs on demand: the compressed blob of a layer this store built is made
// only when someone needs it (a push, a save, a cache export), not when the
// step ends. A built layer is kept once, unpacked in ROOT/layers/<hex>/diff;
// its tar is a function of that directory (codec/layer-tar.ts), so
//   - its uncompressed tar (the blob the local manifest names: digest =
//     diffID, media type ...tar) is made again from the directory whenever
//     it is read, checked against the diffID while it streams;
//   - its gzip blob is made from that tar (codec/layer-gzip.ts), put in the
//     CAS and remembered in ROOT/layers/<hex>/blobs.json (choice → digest,
//     size, media type), so a later push knows the digest without
//     compressing (a HEAD finds it) and a pruned blob is made again with the
//     same bytes, which the CAS checks against the recorded digest.
// The compressed blob is referenced by no local manifest, so prune frees it
// again (one copy kept where the other can be derived); a push or save
// holds a lease while it uses it.
//
// Pulled and loaded layers are not derivable (their blob's bytes are
// someone else's tar and compression): they keep their blob, and their
// layer.json has no `built` mark.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { TsbuildError } from '../errors.js';
import { tempName, type BlobStore } from './blobs.js';
import { DEFAULT_GZIP, gzipRecordKey, ParallelGzip, type GzipChoice } from './codec/layer-gzip.js';
import { layerTar, scanLayerEntries } from './codec/layer-tar.js';
import { digestHex, isDigest } from './digest.js';
import { layerTrusted, readLayerMeta, type LayerMeta } from './layers.js';

export const TAR_MEDIA_TYPE = 'application/vnd.oci.image.layer.v1.tar';
export const GZIP_MEDIA_TYPE = 'application/vnd.oci.image.layer.v1.tar+gzip';

/** A compressed blob made from a built layer. */
export interface DerivedBlob {
  digest: string;
  size: number;
  mediaType: string;
}

/**
 * A gzip blob being made while someone reads it (a push streaming it as it
 * compresses): `body` gives the bytes as they are made, the same bytes go
 * into the CAS, and `blob` settles once they are all there and recorded.
 * Destroying `body` (the upload failed) stops the compression and leaves
 * nothing in the CAS; `blob` then rejects.
 */
export interface StreamedBlob {
  body: Readable;
  blob: Promise<DerivedBlob>;
}

/**
 * Bytes of a streamed blob made ahead of its upload: a few gzip members, so
 * the compressor keeps both its blocks in work while the socket sends the
 * last one (with 1 MiB, each 4 MiB member waited for the socket, then for
 * the disk, before the next was started).
 */
const BODY_BUFFER = 16 << 20;

/** Wait until `body` wants more, or throw if it was destroyed meanwhile. */
function drained(body: PassThrough): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (): void => { body.off('drain', done); body.off('close', closed); resolve(); };
    const closed = (): void => { body.off('drain', done); reject(body.errored ?? new Error('the reader of the blob went away')); };
    body.once('drain', done);
    body.once('close', closed);
  });
}

/**
 * The chunks of `src`, each also written to `body` (at its reader's pace,
 * beyond BODY_BUFFER: a slow upload slows the compression rather than
 * filling memory). Ends
 * `body` when `src` ends; a destroyed `body` stops the copy with an error.
 */
async function* teeInto(src: Readable, body: PassThrough): AsyncGenerator<Buffer> {
  let ended = false;
  try {
    for await (const chunk of src) {
      if (body.destroyed) throw body.errored ?? new Error('the reader of the blob went away');
      body.write(chunk);
      // The CAS writes this chunk while the socket sends it; only then wait
      // for the socket, if it is more than the buffer behind.
      yield chunk as Buffer;
      if (body.writableNeedDrain) await drained(body);
    }
    body.end();
    ended = true;
  } finally {
    // Stopped early (the CAS writer failed, or src did): the reader must not wait for more.
    if (!ended) body.destroy(new Error('making the blob failed'));
  }
}

/** ROOT/layers/<hex>/blobs.json: what each compression choice gave for this layer. */
type BlobRecords = Record<string, DerivedBlob>;

function validRecord(r: unknown): r is DerivedBlob {
  const d = r as DerivedBlob;
  return typeof d === 'object' && d !== null && typeof d.digest === 'string' && isDigest(d.digest) && Number.isSafeInteger(d.size) && typeof d.mediaType === 'string';
}

export class BlobOnDemand {
  /** Compressions under way in this process, by diffID and choice: concurrent pushes share one. */
  private readonly inflight = new Map<string, Promise<DerivedBlob>>();

  constructor(private readonly layersDir: string, private readonly tmpDir: string, private readonly blobs: BlobStore) {}

  private hexDir(diffId: string): string {
    return join(this.layersDir, digestHex(diffId));
  }

  /** The layer's layer.json if this store built it (its tar can be made again), else undefined. */
  async built(diffId: string): Promise<LayerMeta | undefined> {
    if (!isDigest(diffId)) return undefined;
    // Durable (layer.json) or published by a build of this boot and not yet
    // proven (pending.json): the store's crash rule trusts both (layers.ts).
    const dir = this.hexDir(diffId);
    if (!layerTrusted(dir)) return undefined;
    const meta = readLayerMeta(dir);
    return meta?.built === true && meta.diffId === diffId ? meta : undefined;
  }

  /**
   * The layer's uncompressed tar, made from its directory. Errors at EOF
   * with E_DIGEST_MISMATCH if the directory no longer gives the tar it was
   * built as (someone changed files under ROOT/layers).
   */
  async openTar(diffId: string, size?: number): Promise<Readable> {
    const meta = await this.built(diffId);
    if (!meta) throw new TsbuildError('E_BLOB_NOT_FOUND', `blob ${diffId} is not in the store`);
    const dir = join(this.hexDir(diffId), 'diff');
    const { entries } = scanLayerEntries(dir);
    // The directory already holds the clamped times (writeLayer set them), so no clamp here.
    // Checked by the tar's own hash (no second pass over it): an error instead of its end.
    return layerTar(dir, entries, undefined, { what: `layer ${diffId} made again from ${dir}`, digest: diffId, size: size ?? meta.size }).stream;
  }

  async records(diffId: string): Promise<BlobRecords> {
    try {
      const parsed = JSON.parse(await readFile(join(this.hexDir(diffId), 'blobs.json'), 'utf8')) as unknown;
      if (typeof parsed !== 'object' || parsed === null) return {};
      return Object.fromEntries(Object.entries(parsed).filter(([, v]) => validRecord(v))) as BlobRecords;
    } catch {
      return {};
    }
  }

  /** What `choice` gave for this layer before, if it was ever made. */
  async recorded(diffId: string, choice: GzipChoice = DEFAULT_GZIP): Promise<DerivedBlob | undefined> {
    return (await this.records(diffId))[gzipRecordKey(choice)];
  }

  /**
   * The gzip blob of built layer `diffId`, in the CAS: made (on every core)
   * unless it is there, and recorded. The caller holds a lease until it has
   * used the blob.
   */
  compressed(diffId: string, choice: GzipChoice = DEFAULT_GZIP): Promise<DerivedBlob> {
    const key = `${diffId} ${gzipRecordKey(choice)}`;
    let p = this.inflight.get(key);
    if (!p) {
      p = this.make(diffId, choice).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }

  /**
   * Like compressed(), for a reader that wants the bytes while they are
   * made (a push that uploads as it compresses): a StreamedBlob, or the
   * blob itself when there is nothing to stream — it is in the CAS, or
   * another caller of this process is making it (then this waits for that
   * one: one compression per layer, as compressed() shares).
   */
  stream(diffId: string, choice: GzipChoice = DEFAULT_GZIP): Promise<StreamedBlob | DerivedBlob> {
    const key = `${diffId} ${gzipRecordKey(choice)}`;
    const running = this.inflight.get(key);
    if (running) return running;
    return new Promise((resolve, reject) => {
      const p: Promise<DerivedBlob> = this.make(diffId, choice, (body) => resolve({ body, blob: p }))
        .finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
      // Settles this promise if make() never streamed (the blob was there);
      // once resolved with a stream, `blob` carries the outcome.
      p.then(resolve, reject);
    });
  }

  private async make(diffId: string, choice: GzipChoice, onStream?: (body: Readable) => void): Promise<DerivedBlob> {
    const before = await this.recorded(diffId, choice);
    if (before) {
      const have = await this.blobs.stat(before.digest);
      if (have && have.size === before.size) return before;
    }
    const tar = await this.openTar(diffId);
    const gzip = new ParallelGzip(choice);
    tar.on('error', (err) => gzip.destroy(err));
    // A compression stopped early (its reader went away) closes the files the tar reads.
    gzip.on('close', () => tar.destroy());
    // put() reads the gzip only once its temp file is open: a tar that fails
    // before (a small one can end that soon) must not be an uncaught error.
    // put still gets it: iterating an errored stream throws its error.
    gzip.on('error', () => {});
    const zipped = tar.pipe(gzip);
    const body = onStream ? new PassThrough({ highWaterMark: BODY_BUFFER }) : undefined;
    if (body) onStream?.(body);
    // With a record, the bytes must come out as they did before: the CAS
    // checks it at commit (and a streamed upload's registry at its PUT).
    const got = await this.blobs.put(body ? teeInto(zipped, body) : zipped, before ? { digest: before.digest, size: before.size } : {});
    if (body && !body.writableEnded && !body.destroyed) {
      // put() found the blob already there (another process made it since
      // the check above) and read nothing: the reader gets the CAS's copy.
      gzip.destroy();
      (await this.blobs.open(got.digest, got.size)).pipe(body);
    }
    const blob: DerivedBlob = { digest: got.digest, size: got.size, mediaType: GZIP_MEDIA_TYPE };
    if (!before) await this.remember(diffId, gzipRecordKey(choice), blob);
    return blob;
  }

  /** Add one record, atomically (temp file, rename). Two writers racing lose at most a record, which is made again. */
  private async remember(diffId: string, key: string, blob: DerivedBlob): Promise<void> {
    const all = { ...(await this.records(diffId)), [key]: blob };
    const tmp = join(this.tmpDir, tempName('blobs-record'));
    await writeFile(tmp, `${JSON.stringify(all)}\n`, { mode: 0o644 });
    await rename(tmp, join(this.hexDir(diffId), 'blobs.json'));
  }
}
