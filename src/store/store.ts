// StoreImpl: wires the blob CAS, image index, layer store, locks and GC into
// the Store interface (contracts are documented on the interface in
// index.ts). Owns the lock discipline: every mutation runs inside a lease
// (the shared "gc" lock), index read-modify-writes hold the "images" lock,
// and rmi/prune hold "gc" exclusively. Lock order is always gc → images →
// layer stripe, so no two paths can deadlock.
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { TsbuildError } from '../errors.js';
import type { ImageConfig, ImageManifest } from '../image/oci.js';
import type { BlobWriter } from './blob-writer.js';
import { BlobStore, notFound as blobNotFound } from './blobs.js';
import { computeUsage, listContainers, recordContent, sweep } from './gc.js';
import { ImageIndex, isIdReference, lookup, normaliseName, notFound } from './images.js';
import { indexedManifests } from './index-records.js';
import type { BlobInfo, ExpectedBlob, ImageRecord, LayerSource, PruneResult, PutImageInput, RemoveImageResult, Store } from './types.js';
import { LayerStore } from './layers.js';
import { BlobOnDemand, type DerivedBlob, type StreamedBlob } from './blob-on-demand.js';
import type { GzipChoice } from './codec/layer-gzip.js';
import { LockManager } from './lock.js';
import { fromNative, markTopDir, native } from '../native/index.js';
import { fetchLazyBlob, readLazyBlob, removeLazyBlob } from './lazy-blobs.js';
import { pidAlive } from '../pid-alive.js';

function isAlive(pid: number): boolean {
  return pid === process.pid || pidAlive(pid);
}

export class StoreImpl implements Store {
  private readonly tmpDir: string;
  private readonly blobs: BlobStore;
  private readonly index: ImageIndex;
  private readonly layers: LayerStore;
  private readonly onDemand: BlobOnDemand;
  private readonly locks: LockManager;
  private readonly lease = new AsyncLocalStorage<true>();

  private constructor(readonly root: string) {
    this.tmpDir = join(root, 'tmp');
    this.locks = new LockManager(join(root, 'locks'));
    this.blobs = new BlobStore(root, this.tmpDir);
    this.index = new ImageIndex(root, this.tmpDir);
    this.layers = new LayerStore(root, this.tmpDir, this.blobs, this.locks);
    this.onDemand = new BlobOnDemand(this.layers.dir, this.tmpDir, this.blobs);
  }

  static async open(root: string): Promise<Store> {
    const s = new StoreImpl(root);
    try {
      await mkdir(root, { recursive: true, mode: 0o700 });
      await Promise.all([mkdir(s.tmpDir, { recursive: true }), mkdir(join(root, 'locks'), { recursive: true })]);
      // tmp/ holds one directory per layer being unpacked or rebuilt, each the top of its own
      // tree. Marked on every open (one ioctl; the CLI has loaded the native module already),
      // so that stores made before the mark get it too.
      markTopDir(s.tmpDir);
      await Promise.all([s.blobs.init(), s.index.init(), s.layers.init()]);
    } catch (err) {
      throw new TsbuildError('E_STORE', `cannot open the store at ${root}: ${(err as Error).message}`, { cause: err });
    }
    await s.clean();
    return s;
  }

  // ---- leases and locks ----

  async withLease<T>(fn: () => Promise<T>): Promise<T> {
    if (this.lease.getStore()) return fn();
    const release = await this.locks.acquire('gc', false);
    try {
      return await this.lease.run(true, fn);
    } finally {
      release();
    }
  }

  private async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.lease.getStore()) {
      throw new TsbuildError('E_INTERNAL', 'rmi/prune called inside a store lease would wait for itself');
    }
    const release = await this.locks.acquire('gc', true);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /** Read-modify-write of the image index under the "images" lock. */
  private async editImages<T>(fn: (images: ImageRecord[]) => Promise<{ images?: ImageRecord[]; result: T }> | { images?: ImageRecord[]; result: T }): Promise<T> {
    const release = await this.locks.acquire('images', true);
    try {
      const images = await this.index.load();
      const before = JSON.stringify(images);
      const out = await fn(images);
      // Unchanged (a cached rebuild naming its image again): no write, no fsyncs.
      if (out.images && JSON.stringify(out.images) !== before) await this.index.save(out.images);
      return out.result;
    } finally {
      release();
    }
  }

  // ---- blobs ----

  putBlob(source: Readable | AsyncIterable<Uint8Array>, expected?: ExpectedBlob): Promise<BlobInfo> {
    return this.withLease(() => this.blobs.put(source, expected));
  }

  openBlobWriter(path: string, expected: ExpectedBlob): Promise<BlobWriter> {
    return this.blobs.writer(path, expected);
  }

  putBlobBytes(data: Uint8Array, expected?: ExpectedBlob): Promise<BlobInfo> {
    return this.withLease(() => this.blobs.putBytes(data, expected));
  }

  // A built layer's tar (digest = diffID) is not a file in the CAS: it is
  // made again from the unpacked layer when read (blob-on-demand.ts), so
  // these three answer for it as for a stored blob.
  async hasBlob(digest: string): Promise<boolean> {
    return (await this.statBlob(digest)) !== undefined;
  }

  async statBlob(digest: string): Promise<BlobInfo | undefined> {
    const have = await this.blobs.stat(digest);
    if (have) return have;
    const built = await this.onDemand.built(digest);
    return built ? { digest, size: built.size } : undefined;
  }

  async openBlob(digest: string, size?: number): Promise<Readable> {
    if (!(await this.blobs.stat(digest)) && (await this.onDemand.built(digest))) return this.onDemand.openTar(digest, size);
    await this.materializeBlob(digest);
    return this.blobs.open(digest, size);
  }

  isBuiltLayer(digest: string): Promise<boolean> {
    return this.onDemand.built(digest).then((m) => m !== undefined);
  }

  compressedLayerBlob(diffId: string, choice?: GzipChoice): Promise<DerivedBlob> {
    return this.withLease(() => this.onDemand.compressed(diffId, choice));
  }

  streamLayerBlob(diffId: string, choice?: GzipChoice): Promise<StreamedBlob | DerivedBlob> {
    // The lease lasts until the blob is made, not only until its stream is handed out.
    return new Promise((resolve, reject) => {
      this.withLease(async () => {
        const s = await this.onDemand.stream(diffId, choice);
        resolve(s);
        if ('body' in s) await s.blob.catch(() => undefined);
      }).catch(reject);
    });
  }

  recordedLayerBlob(diffId: string, choice?: GzipChoice): Promise<DerivedBlob | undefined> {
    return this.onDemand.recorded(diffId, choice);
  }

  async materializeBlob(digest: string): Promise<void> {
    // A layer recorded lazily (lazy-blobs.ts) is fetched, and unpacked so its
    // diffID is checked too, on its first read; the record goes only then.
    const lazy = readLazyBlob(this.root, digest);
    if (!lazy) return;
    await this.withLease(async () => {
      await this.ensureLayerUnpacked(lazy.diffId, digest, lazy.mediaType);
      // The layer was there already (another blob of it): fetch this one, digest-checked.
      if (!(await this.blobs.stat(digest))) await fetchLazyBlob(this, digest);
      removeLazyBlob(this.root, digest);
    });
  }

  readBlob(digest: string, size?: number): Promise<Buffer> {
    return this.blobs.read(digest, size);
  }

  async readJson<T>(digest: string, size?: number): Promise<T> {
    const data = await this.blobs.read(digest, size);
    try {
      return JSON.parse(data.toString('utf8')) as T;
    } catch {
      throw new TsbuildError('E_STORE_CORRUPT', `blob ${digest} is not valid JSON`);
    }
  }

  deleteBlob(digest: string): Promise<void> {
    return this.blobs.delete(digest);
  }

  // ---- images ----

  putImage(input: PutImageInput): Promise<ImageRecord> {
    return this.withLease(async () => {
      for (const d of [input.manifestDigest, input.configDigest]) {
        if (!(await this.hasBlob(d))) throw blobNotFound(d);
      }
      // Crash rule 1: nothing unproven under a name, whoever wrote it.
      const layers = input.layerDigests ?? ((await this.readJson<ImageManifest>(input.manifestDigest)).layers ?? []).map((l) => l.digest);
      await this.flush({ blobs: [input.manifestDigest, input.configDigest, ...layers] });
      const names = (input.names ?? []).map(normaliseName);
      const repoDigests = input.repoDigests ?? [];
      return this.editImages((images) => {
        let rec = images.find((r) => r.manifestDigest === input.manifestDigest);
        if (!rec) {
          rec = {
            id: input.configDigest,
            manifestDigest: input.manifestDigest,
            manifestMediaType: input.manifestMediaType,
            configDigest: input.configDigest,
            names: [],
            repoDigests: [],
            created: new Date().toISOString(),
          };
          images.push(rec);
        }
        for (const r of images) if (r !== rec) r.names = r.names.filter((n) => !names.includes(n));
        rec.names = [...new Set([...rec.names, ...names])];
        rec.repoDigests = [...new Set([...rec.repoDigests, ...repoDigests])];
        return { images, result: { ...rec } };
      });
    });
  }

  async findImage(ref: string): Promise<ImageRecord | undefined> {
    return lookup(await this.index.load(), ref);
  }

  async resolveImage(ref: string): Promise<ImageRecord> {
    const rec = await this.findImage(ref);
    if (!rec) throw notFound(ref);
    return rec;
  }

  async listImages(): Promise<ImageRecord[]> {
    return (await this.index.load()).sort((a, b) => b.created.localeCompare(a.created));
  }

  tagImage(ref: string, name: string): Promise<ImageRecord> {
    const n = normaliseName(name);
    return this.withLease(() => this.editImages((images) => {
      const rec = lookup(images, ref);
      if (!rec) throw notFound(ref);
      for (const r of images) r.names = r.names.filter((x) => x !== n);
      rec.names.push(n);
      return { images, result: { ...rec } };
    }));
  }

  untagImage(name: string): Promise<void> {
    const n = normaliseName(name);
    return this.withLease(() => this.editImages((images) => {
      const rec = images.find((r) => r.names.includes(n));
      if (!rec) throw notFound(name);
      rec.names = rec.names.filter((x) => x !== n);
      return { images, result: undefined };
    }));
  }

  removeImage(ref: string, opts: { force?: boolean } = {}): Promise<RemoveImageResult> {
    return this.exclusive(async () => {
      const removed: ImageRecord[] = [];
      const result = await this.editImages(async (images) => {
        const rec = lookup(images, ref);
        if (!rec) throw notFound(ref);
        const byId = isIdReference(images, ref) || ref.includes('@');
        const name = byId ? undefined : normaliseName(ref);
        // A name on an image with other names: only that name goes.
        if (name && rec.names.length > 1) {
          rec.names = rec.names.filter((n) => n !== name);
          return { images, result: { untagged: [name], deleted: [] } };
        }
        const targets = byId && ref.replace(/^sha256:/, '').length <= 64 && rec.id.includes(ref.replace(/^sha256:/, ''))
          ? images.filter((r) => r.id === rec.id)
          : [rec];
        const names = targets.flatMap((r) => r.names);
        if (byId && names.length > 1 && !opts.force) {
          throw new TsbuildError('E_IMAGE_CONFLICT', `unable to remove ${ref} (must be forced): image is referenced by several names: ${names.join(', ')}`);
        }
        const users = (await listContainers(this.root)).filter((c) => c.imageId === rec.id);
        const othersShareId = images.some((r) => r.id === rec.id && !targets.includes(r));
        if (users.length && !othersShareId) {
          if (!opts.force) {
            throw new TsbuildError('E_IMAGE_IN_USE', `unable to remove image ${ref}: it is used by container ${users.map((u) => u.id.slice(0, 12)).join(', ')} (use -f to untag it)`);
          }
          // As docker: forced removal of an image a container uses only untags it.
          for (const r of targets) r.names = [];
          return { images, result: { untagged: names, deleted: [] } };
        }
        removed.push(...targets);
        return { images: images.filter((r) => !targets.includes(r)), result: { untagged: names, deleted: [...new Set(targets.map((r) => r.id))] } };
      });
      if (removed.length) await this.collect(removed);
      return result;
    });
  }

  /** Free the content of `removed` records that nothing else uses. Caller holds gc exclusively. */
  private async collect(removed: ImageRecord[]): Promise<void> {
    const candidates = { blobs: [] as string[], layers: [] as string[] };
    for (const r of removed) {
      const c = await recordContent(this.blobs, r);
      candidates.blobs.push(...c.blobs);
      candidates.layers.push(...c.layers);
    }
    const usage = await computeUsage(this.root, this.blobs, await this.index.load());
    await sweep(this.root, this.tmpDir, this.blobs, usage, candidates);
  }

  async readImage(record: ImageRecord): Promise<{ manifest: ImageManifest; config: ImageConfig }> {
    const manifest = await this.readJson<ImageManifest>(record.manifestDigest);
    const config = await this.readJson<ImageConfig>(record.configDigest);
    return { manifest, config };
  }

  // ---- layers ----

  async ensureLayerUnpacked(diffId: string, blobDigest: string, mediaType: string, source?: LayerSource): Promise<string> {
    // A layer recorded lazily (lazy-blobs.ts) is fetched and unpacked in one pass on first use.
    const lazy = readLazyBlob(this.root, blobDigest) !== undefined;
    if (!source && lazy && !(await this.blobs.stat(blobDigest))) {
      source = { fetch: (sink) => fetchLazyBlob(this, blobDigest, sink) };
    }
    const dir = await this.withLease(() => this.layers.ensure(diffId, blobDigest, mediaType, source));
    if (lazy && (await this.blobs.stat(blobDigest))) removeLazyBlob(this.root, blobDigest); // fetched and its diffID checked
    return dir;
  }

  adoptLayerDir(diffId: string, blobDigest: string, mediaType: string, dir: string, size: number, opts: { built?: boolean } = {}): Promise<string> {
    return this.withLease(() => this.layers.adopt(diffId, blobDigest, mediaType, dir, size, opts.built ?? false));
  }

  layerDir(diffId: string): Promise<string | undefined> {
    return this.layers.find(diffId);
  }

  // ---- lifecycle ----

  prune(): Promise<PruneResult> {
    return this.exclusive(async () => {
      const containers = await listContainers(this.root);
      const inUse = new Set(containers.map((c) => c.imageId));
      // The platform images of a named index are untagged but not dangling.
      const inIndex = indexedManifests(this.root);
      const { kept, dropped } = await this.editImages((images) => {
        const dropped = images.filter((r) => r.names.length === 0 && !inUse.has(r.id) && !inIndex.has(r.manifestDigest));
        const kept = images.filter((r) => !dropped.includes(r));
        return { images: dropped.length ? kept : undefined, result: { kept, dropped } };
      });
      const usage = await computeUsage(this.root, this.blobs, kept);
      const swept = await sweep(this.root, this.tmpDir, this.blobs, usage);
      await this.clean();
      return { ...swept, imagesRemoved: dropped.length };
    });
  }

  async clean(): Promise<void> {
    this.blobs.cleanPending();
    let entries: string[];
    try {
      entries = await readdir(this.tmpDir);
    } catch {
      return;
    }
    for (const e of entries) {
      // `<kind>-<pid>-<random>` (tempName), or ADD's `tsbuild-add-<pid>-…`.
      const pid = Number(/^[a-z]+(?:-[a-z]+)*-(\d+)-/.exec(e)?.[1]);
      // Only garbage of dead writers: a live process may still rename it into place.
      if (Number.isInteger(pid) && isAlive(pid)) continue;
      await rm(join(this.tmpDir, e), { recursive: true, force: true });
    }
  }

  deferDurability(): void {
    this.blobs.deferred = true;
    this.layers.deferred = true;
  }

  async flush(also: { blobs?: readonly string[]; diffIds?: readonly string[] } = {}): Promise<void> {
    const blobs = this.blobs.unsyncedOf(also.blobs ?? []);
    const layers = this.layers.pendingOf(also.diffIds ?? []);
    if (!this.blobs.hasUnsynced && !this.layers.hasPending && blobs.length === 0 && layers.length === 0) return;
    // One syncfs covers every file and rename of the batch, on the store's
    // file system (tmp/, blobs/ and layers/ share it: renames are atomic).
    await native().syncFilesystem(this.root).catch((err: unknown) => { throw fromNative(`sync ${this.root}`, err); });
    this.blobs.promote(blobs);
    this.layers.promote(layers);
  }

  async close(): Promise<void> {
    // Locks are scoped to calls and released by them; nothing is held between calls.
    await this.layers.settle(); // nothing left deleting when the command ends
    await this.flush();
  }
}
